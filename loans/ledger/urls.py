from django.urls import path

from . import views

app_name = "loans"

urlpatterns = [
    path("", views.loan_list, name="list"),
    path("new/", views.loan_new, name="create"),
    path("<int:pk>/", views.loan_detail, name="detail"),
]
