# Models arrive with this app's issue; the app is registered so that
# migrations and imports have a fixed home.
