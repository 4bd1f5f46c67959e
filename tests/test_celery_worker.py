import pytest

from zhenxingdai.celery import app as celery_app
from zhenxingdai.celery import ping


@pytest.mark.redis
def test_a_real_worker_on_redis_runs_a_task_and_returns_its_result(celery_worker):
    result = ping.apply_async(queue=celery_worker.queue)
    assert result.get(timeout=30) == "pong"
    line = f"Task zhenxingdai.ping[{result.id}] succeeded"
    assert line in celery_worker.wait_for_log(line)


@pytest.mark.redis
def test_the_worker_is_a_separate_process_that_answers_control_pings(celery_worker):
    replies = celery_app.control.ping(destination=[celery_worker.name], timeout=2)
    assert replies == [{celery_worker.name: {"ok": "pong"}}]
    assert celery_worker.process.poll() is None


def test_without_a_worker_tasks_run_in_process_when_eager():
    assert ping.delay().get(timeout=1) == "pong"
