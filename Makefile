# immutable.infra developer entry points. `make test` is what CI runs (.ci/run); it sets itself up first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHONPATH := $(CURDIR)/.state/collections
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup test lint ansible-lint packer-check changelog sanity unit molecule integration demo build lock clean \
	swarm-up swarm-down swarm-status swarm-test swarm-layer

help:
	@echo "make setup        install everything this project needs (idempotent)"
	@echo "make test         setup, then every test layer: lint sanity unit molecule integration"
	@echo "make lint         ansible-lint (production profile), packer fmt -check and packer validate, make changelog"
	@echo "make changelog    lint the changelog fragments (changelogs/fragments) and changelogs/changelog.yaml"
	@echo "make sanity       ansible-test sanity on the plugins"
	@echo "make unit         pytest unit tests (tests/unit)"
	@echo "make molecule     every role's Molecule scenario (molecule/), then the example project's (examples/project)"
	@echo "make integration  pytest integration tests against the real engine (tests/integration)"
	@echo "make demo         the main job: bake, bring a fleet up, roll it to a new version under load"
	@echo "make build        ansible-galaxy collection build into .state/dist"
	@echo "make swarm-up     the Swarm test bed: registry on 127.0.0.1:5005, manager API on 127.0.0.1:2385 (idempotent)"
	@echo "make swarm-down   remove the Swarm test bed (images stay; scripts/swarm.sh down --images removes them)"
	@echo "make swarm-status what of the Swarm test bed runs (exit status 0 when it is up)"
	@echo "make swarm-test   tests on the Swarm test bed (tests/swarm): starts it, removes it after unless it was up"

setup:
	@bash scripts/setup.sh

test: setup
	@$(MAKE) --no-print-directory lint sanity unit molecule integration swarm-layer
	@echo "make test: every layer passed"

lint: ansible-lint packer-check changelog

ansible-lint:
	@echo "==> ansible-lint (production profile)"
	ansible-lint --profile production

packer-check:
	@echo "==> packer fmt -check and packer validate: packer/ (the one template every image is built with)"
	@test -f packer/image.pkr.hcl || { echo "no Packer template packer/image.pkr.hcl"; exit 1; }
	packer fmt -check -diff packer/
	packer validate packer/
	packer validate -only=docker.image packer/

changelog:
	@echo "==> antsibull-changelog lint: changelogs/fragments and changelogs/changelog.yaml"
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

sanity:
	@echo "==> ansible-test sanity"
	bash scripts/sanity.sh

unit:
	@echo "==> unit tests"
	pytest tests/unit

molecule:
	@echo "==> Molecule scenarios: $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))"
	molecule test --all
	@echo "==> Molecule scenario of the example project (examples/project/molecule/hello, from a copy outside the checkout)"
	bash scripts/example_molecule.sh

integration:
	@echo "==> integration tests (real engine)"
	pytest --durations=20 tests/integration

demo: setup
	bash scripts/demo.sh

build:
	@mkdir -p .state/dist
	ansible-galaxy collection build --force --output-path .state/dist .

lock:
	rm -rf .state/lock-venv && python3 -m venv .state/lock-venv
	.state/lock-venv/bin/pip install -q -r requirements.in
	{ echo "# Full lock of requirements.in (pip freeze of a fresh venv). Regenerate with: make lock"; \
	  .state/lock-venv/bin/pip freeze; } > requirements.txt

swarm-up: setup
	@bash scripts/swarm.sh up

swarm-down:
	@bash scripts/swarm.sh down

swarm-status:
	@bash scripts/swarm.sh status

swarm-test: setup
	@$(MAKE) --no-print-directory swarm-layer

# The Swarm layer of make test: tests/swarm starts the test bed and removes it afterwards (unless it was up).
swarm-layer:
	@echo "==> tests on the Swarm test bed (tests/swarm)"
	pytest --durations=10 tests/swarm

clean:
	rm -rf .state/sanity .state/dist .pytest_cache
