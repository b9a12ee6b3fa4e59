# -*- coding: utf-8 -*-
"""The image catalog for real: promote.yml, prune.yml, images.yml and the image lookup on the engine.

No Packer here: ``make_image`` imports a tiny tar carrying the labels and tags a bake gives an image, under the
repository ``itest-catalog`` (test_bake.py uses ``itest``). Tests run in file order and share the images.
"""

import datetime
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import BIN, ROOT, run_playbook

REPOSITORY = 'itest-catalog'
TEST_LABEL = {'io.immutable-infra.test': 'catalog'}
OLD = '2020-01-01T00:00:00Z'


def clean(engine):
    for container in engine.containers.list(all=True, filters={'label': 'io.immutable-infra.test=catalog'}):
        container.remove(force=True, v=True)
    for image in engine.images.list():
        if any(tag.startswith(REPOSITORY + '/') for tag in image.tags):
            engine.images.remove(image.id, force=True)


def make_image(engine, name, version, verified=True, parent=None, failed=False, created=None):
    """An image as bake.yml leaves it: the bake's labels, its version tag and its verdict tag. Returns its ID."""
    created = created or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    content = ('%s %s\n' % (name, version)).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as archive:
        info = tarfile.TarInfo('etc/immutable-infra/version')
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    labels = {
        'org.opencontainers.image.title': name,
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.revision': 'itest',
        'org.opencontainers.image.created': created,
        'org.opencontainers.image.source': 'https://github.com/immutable-infra/immutable.infra',
        'io.immutable-infra.name': name,
        'io.immutable-infra.version': version,
        'io.immutable-infra.bake-key': ('%s-%s' % (name, version)).encode().hex().ljust(64, '0')[:64],
    }
    if parent:
        labels['io.immutable-infra.parent'] = parent
    change = 'LABEL ' + ' '.join('%s=%s' % (k, json.dumps(v)) for k, v in sorted(labels.items()))
    tag = version.replace('+', '_')
    repository = '%s/%s' % (REPOSITORY, name)
    output = engine.api.import_image_from_data(buffer.getvalue(), repository=repository,
                                               tag=('failed-' + tag) if failed else tag, changes=[change])
    image_id = json.loads(output.strip().splitlines()[-1])['status']
    if verified:
        engine.api.tag(image_id, repository, 'verified-' + tag)
    return image_id


def ref(name, tag):
    return '%s/%s:%s' % (REPOSITORY, name, tag)


def image_id_of(engine, name, tag):
    try:
        return engine.images.get(ref(name, tag)).id
    except Exception:  # docker.errors.ImageNotFound
        return None


def snapshot(engine):
    """Every itest-catalog tag and the image it points at: what a refused or check-mode run must not change."""
    return sorted((tag, image.id) for image in engine.images.list() for tag in image.tags
                  if tag.startswith(REPOSITORY + '/'))


def promote(check=False, **extra):
    extra.setdefault('image', 'web')
    return run_playbook('promote.yml', dict(extra, image_repository=REPOSITORY), check=check)


def channel_result(run):
    [result] = run.task_results('Move the channel')
    return result


@pytest.fixture(scope='module')
def images(engine):
    clean(engine)
    ids = {'base 1.0.0': make_image(engine, 'base', '1.0.0')}
    for version in ('1.0.0', '1.1.0', '1.2.0'):
        ids['web ' + version] = make_image(engine, 'web', version, parent=ids['base 1.0.0'])
    ids['web 1.3.0'] = make_image(engine, 'web', '1.3.0', verified=False, parent=ids['base 1.0.0'])
    ids['web 1.0.1-broken'] = make_image(engine, 'web', '1.0.1-broken', verified=False, failed=True)
    yield ids
    clean(engine)


# Promote, history, rollback ------------------------------------------------------------------------

def test_promote_two_versions_then_rollback_returns_the_previous(engine, images):
    first = promote(version='1.0.0', channel='prod')
    assert first.rc == 0, first.output[-3000:]
    assert first.changed == 1
    second = promote(version='1.1.0', channel='prod')
    assert second.rc == 0, second.output[-3000:]
    assert image_id_of(engine, 'web', 'prod') == images['web 1.1.0']

    history = channel_result(second)['history']
    assert [(e['seq'], e['version'], e['previous_version']) for e in history] == [
        (2, '1.1.0', '1.0.0'), (1, '1.0.0', None)]
    assert history[0]['image_id'] == images['web 1.1.0']
    assert history[0]['previous_image_id'] == images['web 1.0.0']
    for entry in history:
        when = datetime.datetime.strptime(entry['time'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
        assert abs(datetime.datetime.now(datetime.timezone.utc) - when) < datetime.timedelta(minutes=10)
    assert 'web prod: 1.0.0 -> 1.1.0 (promote, history entry 2)' in second.messages()

    back = promote(channel='prod', channel_state='rollback')
    assert back.rc == 0, back.output[-3000:]
    assert image_id_of(engine, 'web', 'prod') == images['web 1.0.0']
    result = channel_result(back)
    assert (result['operation'], result['previous_version'], result['version']) == ('rollback', '1.1.0', '1.0.0')
    assert [e['seq'] for e in result['history']] == [3, 2, 1]
    # The history lives in the engine: one record image per entry.
    records = [t for i in engine.images.list(name=REPOSITORY + '/web.channel-history') for t in i.tags]
    assert sorted(records) == [ref('web.channel-history', 'prod-00000%d' % n) for n in (1, 2, 3)]


def test_rollback_with_no_earlier_entry_is_refused(engine, images):
    first = promote(version='1.0.0', channel='qa')
    assert first.rc == 0, first.output[-3000:]
    before = snapshot(engine)
    run = promote(channel='qa', channel_state='rollback')
    assert run.rc != 0
    assert 'no earlier assignment to roll back to' in run.messages()
    assert snapshot(engine) == before


def test_check_mode_changes_nothing_and_a_second_run_reports_no_change(engine, images):
    before = snapshot(engine)
    check = promote(version='1.2.0', channel='staging', check=True)
    assert check.rc == 0, check.output[-3000:]
    assert check.changed == 1
    assert channel_result(check)['entry']['version'] == '1.2.0'
    assert 'check mode: nothing changed' in check.messages()
    assert snapshot(engine) == before

    real = promote(version='1.2.0', channel='staging')
    assert real.rc == 0 and real.changed == 1
    assert image_id_of(engine, 'web', 'staging') == images['web 1.2.0']

    again = promote(version='1.2.0', channel='staging')
    assert again.rc == 0 and again.changed == 0
    assert 'already at 1.2.0, nothing to do' in again.messages()
    after = snapshot(engine)

    check_again = promote(version='1.2.0', channel='staging', check=True)
    assert check_again.rc == 0 and check_again.changed == 0
    assert snapshot(engine) == after


def test_unverified_image_is_refused_unless_allowed(engine, images):
    before = snapshot(engine)
    refused = promote(version='1.3.0', channel='dev')
    assert refused.rc != 0
    assert 'is not verified' in refused.messages() and 'allow_unverified=true' in refused.messages()
    assert snapshot(engine) == before

    allowed = promote(version='1.3.0', channel='dev', allow_unverified=True)
    assert allowed.rc == 0, allowed.output[-3000:]
    assert image_id_of(engine, 'web', 'dev') == images['web 1.3.0']


@pytest.mark.parametrize('extra, expected', [
    ({'version': '9.9.9', 'channel': 'prod'}, 'web has no version 9.9.9'),
    ({'version': '1.0.1-broken', 'channel': 'prod', 'allow_unverified': True}, 'failed its image tests'),
    ({'image': 'api', 'version': '1.0.0', 'channel': 'prod'}, 'no image named api in repository itest-catalog; known names: base, web'),
    ({'version': '1.0.0', 'channel': 'Prod'}, 'Channel names are lowercase letters'),
    ({'version': '1.0.0', 'channel': 'latest'}, "invalid channel name 'latest'"),
    ({'version': '1.0', 'channel': 'prod'}, 'version is a semantic version'),
    ({'version': '1.0.0'}, 'Got image=web, channel=(missing)'),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(engine, images, extra, expected):
    before = snapshot(engine)
    run = promote(**extra)
    assert run.rc != 0
    assert expected in run.messages()
    assert snapshot(engine) == before


# images.yml and the lookup --------------------------------------------------------------------------

def test_images_playbook_prints_the_table(engine, images):
    holder = engine.containers.create(ref('web', '1.0.0'), command=['/none'], name='itest-catalog-user',
                                      labels=dict(TEST_LABEL, **{'io.immutable-infra.fleet': 'webfleet'}))
    try:
        run = run_playbook('images.yml', {'image_repository': REPOSITORY})
        assert run.rc == 0, run.output[-3000:]
        [shown] = run.task_results('Show the images and channels')
        lines = shown['msg']
        header = lines.index(next(line for line in lines if line.startswith('NAME  VERSION')))
        rows = [line.split() for line in lines[header + 1:lines.index('')]]
        assert [row[:3] for row in rows] == [
            ['base', '1.0.0', 'verified'], ['web', '1.3.0', 'unverified'], ['web', '1.2.0', 'verified'],
            ['web', '1.1.0', 'verified'], ['web', '1.0.1-broken', 'failed'], ['web', '1.0.0', 'verified']]
        web_100 = rows[-1]
        assert web_100[3] == 'prod,qa' and web_100[4] == 'itest-catalog-user' and web_100[5] == 'webfleet'
        assert any(line.split()[:3] == ['web', 'prod', '1.0.0'] for line in lines[lines.index('Channels:'):])
        [info] = run.task_results('Read the catalog')
        assert info['images'][-1]['containers'] == ['itest-catalog-user']
    finally:
        holder.remove(force=True)


def test_images_playbook_rejects_an_unknown_name(images):
    run = run_playbook('images.yml', {'image_repository': REPOSITORY, 'image': 'nope'})
    assert run.rc != 0
    assert 'no image named nope in repository itest-catalog; known names: base, web' in run.messages()


def lookup(expression):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_CALLBACK_RESULT_FORMAT='json', PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    return subprocess.run([os.path.join(BIN, 'ansible'), 'localhost', '-m', 'ansible.builtin.debug',
                           '-a', 'msg={{ %s }}' % expression], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_lookup_pins_the_channel_and_the_latest_verified_by_id(images):
    prod = lookup("lookup('immutable.infra.image', 'web', channel='prod', repository='%s')" % REPOSITORY)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert '"msg": "%s"' % images['web 1.0.0'] in prod.stdout
    latest = lookup("lookup('immutable.infra.image', 'web', version='latest', repository='%s')" % REPOSITORY)
    assert '"msg": "%s"' % images['web 1.2.0'] in latest.stdout
    missing = lookup("lookup('immutable.infra.image', 'web', channel='nope', repository='%s')" % REPOSITORY)
    assert missing.returncode != 0
    assert 'web has no channel nope; channels: dev, prod, qa, staging' in missing.stdout + missing.stderr


# Prune ---------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def api_images(engine, images):
    """api 1.0.0 .. 1.5.0 verified, a stopped container on 1.0.0, prod moved 1.1.0 -> 1.2.0, plus an old
    unverified and an old failed bake."""
    ids = {}
    for minor in range(6):
        version = '1.%d.0' % minor
        ids[version] = make_image(engine, 'api', version, parent=images['base 1.0.0'])
    ids['1.6.0-rc.1'] = make_image(engine, 'api', '1.6.0-rc.1', verified=False, created=OLD)
    ids['1.0.1-broken'] = make_image(engine, 'api', '1.0.1-broken', verified=False, failed=True, created=OLD)
    engine.containers.create(ref('api', '1.0.0'), command=['/none'], name='itest-catalog-old-api',
                             labels=TEST_LABEL)
    for version in ('1.1.0', '1.2.0'):
        run = promote(image='api', version=version, channel='prod')
        assert run.rc == 0, run.output[-3000:]
    return ids


def prune(check=False, **extra):
    return run_playbook('prune.yml', dict({'image': 'api', 'keep': 2, 'image_repository': REPOSITORY}, **extra),
                        check=check)


def prune_result(run):
    [result] = run.task_results('Prune the images')
    return result


def test_prune_check_mode_reports_exactly_what_the_real_run_removes(engine, images, api_images):
    before = snapshot(engine)
    check = prune(check=True)
    assert check.rc == 0, check.output[-3000:]
    assert snapshot(engine) == before
    planned = prune_result(check)
    removed = dict((r['version'], r['reason']) for r in planned['removed'])
    assert removed == {
        '1.6.0-rc.1': 'unverified, older than the grace period (1d)',
        '1.3.0': 'not among the newest 2 verified versions of api',
        '1.0.1-broken': 'unverified, older than the grace period (1d)',
    }
    kept = dict((r['version'], r['reasons']) for r in planned['kept'])
    assert kept['1.0.0'] == ['used by container itest-catalog-old-api']
    assert kept['1.2.0'] == ['target of channel prod']
    assert kept['1.1.0'] == ['in history of channel prod (entry 1)']
    assert kept['1.5.0'] == kept['1.4.0'] == ['newest 2 verified']
    assert 'Check mode, nothing changed: a real run removes 3 image(s), keeps 5.' in check.messages()
    [shown] = check.task_results('Show what was removed')
    assert any(line.split()[:3] == ['keep', 'api', '1.0.0'] and line.endswith('used by container itest-catalog-old-api')
               for line in shown['msg'])

    real = prune()
    assert real.rc == 0, real.output[-3000:]
    assert real.changed == 1
    assert prune_result(real)['removed'] == planned['removed']
    assert prune_result(real)['kept'] == planned['kept']
    present = set(image.id for image in engine.images.list())
    for record in planned['removed']:
        assert record['id'] not in present
    for record in planned['kept']:
        assert record['id'] in present
    # The other names, the parent and the channel history are untouched.
    assert images['base 1.0.0'] in present and images['web 1.0.0'] in present
    assert engine.images.list(name=REPOSITORY + '/api.channel-history')

    again = prune()
    assert again.rc == 0 and again.changed == 0
    assert prune_result(again)['removed'] == []


def test_prune_bad_input_changes_nothing(engine, api_images):
    before = snapshot(engine)
    for extra, expected in [({'keep': 0}, 'Pass -e image=NAME'),
                            ({'protect': 'api:9.9.9'}, 'protect entries that match no image: api:9.9.9'),
                            ({'image': 'nope'}, 'no image named nope')]:
        run = prune(**extra)
        assert run.rc != 0
        assert expected in run.messages()
    assert snapshot(engine) == before
