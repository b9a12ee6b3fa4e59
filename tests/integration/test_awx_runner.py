# -*- coding: utf-8 -*-
"""The example project run by ansible-runner (what AWX runs a job with), laid out as AWX lays out a job.

private_data_dir/
  project/        a copy of examples/project, the collection installed into project/collections (as AWX's project
                  sync installs collections/requirements.yml), the job's working directory
  inventory/      the project's inventory (hosts.yml and its group_vars), as AWX writes the job's inventory
  env/extravars   the survey answers and the job template's extra vars
  env/envvars     the job's environment

The playbook is the catalog table (playbooks/images.yml): it reads the engine and is fast. Its repository is
the test's own, so the table is empty.
"""

import json
import os
import shutil
import sys

import ansible_runner  # requirements.txt pins it: a missing runner fails this module loudly
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
REPOSITORY = 'i11x-runner'


@pytest.fixture(scope='module')
def job(tmp_path_factory):
    data = tmp_path_factory.mktemp('awx-job')
    project = data / 'project'
    shutil.copytree(os.path.join(ROOT, 'examples', 'project'), str(project))
    installed = project / 'collections' / 'ansible_collections' / 'immutable'
    installed.mkdir(parents=True)
    os.symlink(ROOT, str(installed / 'infra'))
    shutil.copytree(str(project / 'inventory'), str(data / 'inventory'))
    (data / 'env').mkdir()
    (data / 'env' / 'extravars').write_text(json.dumps({'image_repository': REPOSITORY}))
    env = {'PATH': BIN + os.pathsep + os.environ.get('PATH', ''), 'ANSIBLE_FORCE_COLOR': 'false'}
    if os.environ.get('DOCKER_HOST'):
        env['DOCKER_HOST'] = os.environ['DOCKER_HOST']
    (data / 'env' / 'envvars').write_text(json.dumps(env))
    # The job's own ansible.cfg is the project's (collections_path ./collections): nothing of this checkout's.
    saved = {name: os.environ.pop(name) for name in ('ANSIBLE_CONFIG', 'ANSIBLE_COLLECTIONS_PATH', 'PYTHONPATH')
             if name in os.environ}
    try:
        runner = ansible_runner.run(private_data_dir=str(data), playbook='playbooks/images.yml', quiet=True,
                                    timeout=300)
    finally:
        os.environ.update(saved)
    return runner


def test_the_job_is_successful(job):
    assert job.status == 'successful', job.stdout.read()
    assert job.rc == 0


def test_the_catalog_task_ran_ok(job):
    events = list(job.events)
    ok = [e for e in events if e['event'] == 'runner_on_ok']
    tasks = [e['event_data'].get('task') for e in ok]
    assert 'Read the catalog' in tasks, tasks
    catalog = next(e for e in ok if e['event_data'].get('task') == 'Read the catalog')
    assert catalog['event_data']['res']['images'] == []
    assert not [e for e in events if e['event'] in ('runner_on_failed', 'runner_on_unreachable')]


def test_the_table_names_the_extravars_repository(job):
    shown = [e for e in job.events if e['event'] == 'runner_on_ok'
             and e['event_data'].get('task') == 'Show the images and channels']
    assert shown and shown[0]['event_data']['res']['msg'][0] == 'Images in %s (newest first):' % REPOSITORY
    assert job.stats['ok'] == {'localhost': 3}
