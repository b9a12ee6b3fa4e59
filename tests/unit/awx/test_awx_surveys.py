# -*- coding: utf-8 -*-
"""The AWX job templates of examples/awx against the playbooks they run.

Every template runs a thin playbook of the example project that imports one collection playbook; each survey
variable must be an extra var that collection playbook reads, every input it requires must be asked (and
required), the survey must be one AWX accepts, and every awx.awx task of configure.yml must use only options of
its module (the argument specs of the awx.awx collection that ships in the ansible package, via ansible-doc).
"""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX = os.path.join(ROOT, 'examples', 'awx')
PROJECT = os.path.join(ROOT, 'examples', 'project')
BIN = os.path.dirname(sys.executable)
SURVEY_TYPES = ('text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect')
# What each playbook cannot run without, besides what its own checks say (see required_inputs).
EXPECTED_REQUIRED = {
    'bake': {'image', 'version'},
    'promote': {'image', 'channel'},
    'rollout': {'fleet'},
    'rollback': {'fleet'},
    'heal': {'fleet'},
    'drift': {'fleet'},
}


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _read(path):
    with open(path) as handle:
        return handle.read()


TEMPLATES = _load(os.path.join(AWX, 'job_templates.yml'))['awx_job_templates']


def collection_playbook(template):
    """The collection playbook a template's project playbook imports (immutable.infra.NAME -> playbooks/NAME.yml)."""
    plays = _load(os.path.join(PROJECT, template['playbook']))
    imports = [play.get('ansible.builtin.import_playbook') or play.get('import_playbook') for play in plays]
    assert len(imports) == 1 and imports[0].startswith('immutable.infra.'), imports
    return os.path.join(ROOT, 'playbooks', imports[0].split('.')[-1] + '.yml')


def playbook_sources(path):
    """The text of a playbook and of the task files it includes (playbooks/tasks/...), and the names of the fleet
    overrides when it reads them (vars/fleets.yml: each one is an extra var the playbook passes on)."""
    texts, names = [_read(path)], []
    for rel in re.findall(r'include_tasks: (tasks/[a-z_]+\.yml)', texts[0]):
        texts.append(_read(os.path.join(os.path.dirname(path), rel)))
    if 'fleet_override_names' in ''.join(texts):
        names = _load(os.path.join(os.path.dirname(path), 'vars', 'fleets.yml'))['fleet_override_names']
    return '\n'.join(texts), names


def reads(text, overrides, variable):
    return variable in overrides or re.search(r'(?<![\w.])%s(?![\w])' % re.escape(variable), text) is not None


def required_inputs(text):
    """Variables the playbook's checks require unconditionally: `- NAME is defined and ...` or `- NAME is defined`."""
    return set(re.findall(r'^\s*- (\w+) is defined(?: and .*)?$', text, re.M))


def inventory_variables():
    """Names of the variables the example project's inventory defines (group_vars/all/*.yml)."""
    folder = os.path.join(PROJECT, 'inventory', 'group_vars', 'all')
    names = set()
    for filename in sorted(os.listdir(folder)):
        names.update(_load(os.path.join(folder, filename)) or {})
    return names


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_every_survey_variable_is_read_by_the_playbook(template):
    text, overrides = playbook_sources(collection_playbook(template))
    unread = [q['variable'] for q in template['survey'] if not reads(text, overrides, q['variable'])]
    assert unread == [], '%s asks %s, which %s does not read' % (template['name'], unread,
                                                                 collection_playbook(template))


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_every_required_input_is_asked_and_required(template):
    text = playbook_sources(collection_playbook(template))[0]
    # What the inventory gives (immutable_fleets...) is no question of the survey, but it must be there.
    inventory = inventory_variables()
    required = required_inputs(text) - inventory
    assert required_inputs(text) & inventory <= {'immutable_fleets'}
    assert required == EXPECTED_REQUIRED[template['name']]
    asked = dict((q['variable'], q) for q in template['survey'])
    for variable in sorted(required):
        assert variable in asked, '%s does not ask %s' % (template['name'], variable)
        assert asked[variable]['required'] is True


def test_the_templates_are_the_six_jobs():
    assert [t['name'] for t in TEMPLATES] == ['bake', 'promote', 'rollout', 'rollback', 'heal', 'drift']
    assert [t['name'] for t in TEMPLATES if 'schedule' in t] == ['heal']


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_the_survey_is_one_awx_accepts(template):
    variables = [q['variable'] for q in template['survey']]
    assert len(variables) == len(set(variables))
    for question in template['survey']:
        assert set(question) <= {'variable', 'question_name', 'question_description', 'type', 'required',
                                 'default', 'choices', 'min', 'max'}
        assert question['type'] in SURVEY_TYPES and question['question_name']
        assert isinstance(question['required'], bool)
        if question['type'] in ('multiplechoice', 'multiselect'):
            assert question['choices'] and all(isinstance(c, str) for c in question['choices'])
            if 'default' in question:
                assert question['default'] in question['choices']
        if question['type'] == 'integer' and 'default' in question:
            assert question['min'] <= question['default'] <= question['max']
        # An optional question with a default always sends it: the playbook's own default would never apply.
        if not question['required']:
            assert 'default' not in question, question


def test_the_schedule_passes_a_required_input_of_its_job():
    heal = next(t for t in TEMPLATES if t['name'] == 'heal')
    assert set(heal['schedule']['extra_data']) >= EXPECTED_REQUIRED['heal']
    assert heal['schedule']['rrule'].startswith('DTSTART')


def test_the_awx_tasks_use_only_options_of_their_modules():
    plays = _load(os.path.join(AWX, 'configure.yml'))
    tasks = [task for play in plays for task in play['tasks']]
    modules = sorted(set(key for task in tasks for key in task if key.startswith('awx.awx.')))
    assert modules == ['awx.awx.execution_environment', 'awx.awx.inventory', 'awx.awx.inventory_source',
                       'awx.awx.job_template', 'awx.awx.project', 'awx.awx.schedule']
    run = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-j'] + modules, capture_output=True, text=True,
                         check=True)
    docs = json.loads(run.stdout)
    for task in tasks:
        module = next(key for key in task if key.startswith('awx.awx.'))
        options = docs[module]['doc']['options']
        unknown = sorted(set(task[module]) - set(options))
        assert unknown == [], '%s: %s has no option %s' % (task['name'], module, unknown)
        for option, value in task[module].items():
            choices = options[option].get('choices')
            if choices and not str(value).startswith('{{'):
                assert value in choices, '%s: %s=%r not in %s' % (task['name'], option, value, choices)
    job_template = docs['awx.awx.job_template']['doc']['options']
    assert job_template['survey_spec']['type'] == 'dict'
