# dbc_jax: every target sets itself up (creates .venv and installs the package on first use).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
comma  := ,
ENV    ?= maze
PRESET ?= quick
ALGO   ?= dbc
ARGS   ?=
BENCH  ?= train
# pytest-xdist processes; most of the suite's time is single-threaded XLA compilation, so two overlap well on 2 cores.
TEST_WORKERS ?= 2
DATA   ?=
# DATA=minari:<dataset id>: a task made from a local Minari dataset (dbc_jax/configs/dataset.py) instead of ENV's.
CONFIG := $(if $(DATA),dbc_jax/configs/dataset.py:$(PRESET)$(comma)$(DATA),dbc_jax/configs/$(ENV).py:$(PRESET))
# GPU=1 installs jax's CUDA 12 build beside the rest (setup.cfg's extra "cuda"), in the same .venv:
# make install GPU=1, or on first use, e.g. make train ENV=maze GPU=1.
EXTRAS := dev$(if $(GPU),$(comma)cuda)
STAMP  := $(VENV)/.installed$(if $(GPU),-cuda)
# The task registry (dbc_jax/tasks.py) names the tasks; it imports nothing heavy, so help works before install.
TASKS        = $(shell $(PYTHON) dbc_jax/tasks.py)
EXPERT_TASKS = $(shell $(PYTHON) dbc_jax/tasks.py --expert=sac)

.DEFAULT_GOAL := help
.PHONY: help check-env install train eval video demos export-minari expert test test-slow bench generalization paper-table compare ablation-models sweep manifold multimodal agent-data clean

help:  ## list the targets
	@echo "dbc_jax -- Diffusion Model-Augmented Behavioral Cloning in JAX"
	@echo
	@echo "  make train ENV=$(TASKS) [PRESET=quick|paper|smoke] [ALGO=dbc|bc|dp|ibc] [ARGS='--config.seed=2']"
	@echo "                                                   DBC's joint model: ARGS='--config.model=diffusion|ebm|vae|gan'"
	@echo "  make train DATA=minari:<dataset id> [PRESET=...] [ALGO=...]   any local Minari dataset (Box spaces) and its env"
	@echo "  make eval WORKDIR=runs/maze_dbc_quick_seed1      evaluate a saved run"
	@echo "  make video WORKDIR=runs/<run> [ARGS='--num_episodes=4 --format=mp4']"
	@echo "                                                   render its evaluation episodes (<workdir>/videos/*.gif)"
	@echo "  make demos ENV=<task>                            (re)generate the expert demos (data/<env>_expert_<N>ep.npz, or _<N>tr.npz)"
	@echo "  make export-minari DATA=data/maze_expert_100ep.npz ID=dbc_jax/maze/expert-v0 [ENV=maze]"
	@echo "                                                   a dataset as a local Minari dataset (read: data.path=minari:<ID>)"
	@echo "  make expert ENV=<task>                           retrain its SAC expert (dbc_jax/experts/weights/), then make demos"
	@echo "                                                   tasks with one: $(EXPERT_TASKS)"
	@echo "  make test [TEST_WORKERS=2]                       the test suite (pytest-xdist processes; 0 = serial)"
	@echo "  make test-slow                                   the longer checks CI runs after make test"
	@echo "  make bench [BENCH=train|expert|policy|eval]      speed benchmarks (experiments/bench_<BENCH>.py)"
	@echo "  make generalization [PRESET=quick]               FetchPick: train at noise 1.25, evaluate at 1..2 (table + plot)"
	@echo "  make paper-table [PRESET=quick] [ARGS='--no-train']  the paper's main table: every task x method (docs/paper_table_*)"
	@echo "  make compare [PRESET=quick] [ARGS='--no-train --readme README.md']"
	@echo "                                                   does DBC beat each baseline? 10 independent runs per cell"
	@echo "                                                   (IBC 5), intervals (rliable): docs/compare_*.{json,md,png}"
	@echo "  make ablation-models [PRESET=quick]              Maze: DM, EBM, VAE, GAN in DBC's term, with/without BC, and BC"
	@echo "  make sweep ENV=maze ARGS='--grid diffusion.coeff=0,0.1,1,10 [--grid diffusion.term=hinge,agent]'"
	@echo "                                                   a grid of config fields, vmapped in one program (table + plot)"
	@echo "  make manifold                                    manifold overfitting: BC, DBC, its term alone, DP vs state dimension"
	@echo "  make multimodal [PRESET=quick] [ARGS='--runs 10']  two ways past a block (ENV=fork): BC, DBC's λ, DP, IBC, each path's way"
	@echo "  make agent-data [PRESET=quick] [ARGS='--runs 10']  demos mixed with 0/25/50% agent steps (Maze, HalfCheetah): BC, DBC, DP"
	@echo "  make install [GPU=1]                             create $(VENV) and install dbc_jax with the dev extra"
	@echo "                                                   (GPU=1: and jax's CUDA 12 build; works on any target)"
	@echo "  make clean                                       remove $(VENV), runs/ and data/"

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@ $(VENV)/.installed  # the CUDA install serves the plain targets too

install: $(STAMP)

# An unknown ENV stops with the list of tasks, before anything is installed or run.
check-env:
	@test -n "$(DATA)" || echo "$(ENV)" | grep -qxE "$(TASKS)" || { echo "error: unknown task '$(ENV)' (known: $$(echo '$(TASKS)' | sed 's/|/, /g'); or DATA=minari:<dataset id>)" >&2; exit 2; }
	@test -z "$(DATA)" || echo "$(DATA)" | grep -q "^minari:" || { echo "error: DATA=$(DATA): expected minari:<a local Minari dataset id> (a .npz of one of the tasks: make train ENV=<task> ARGS=--config.data.path=$(DATA))" >&2; exit 2; }

train: check-env install
	$(PY) -m dbc_jax.main --config=$(CONFIG) --config.algo=$(ALGO) $(ARGS)

eval: install
	@test -n "$(WORKDIR)" || (echo "usage: make eval WORKDIR=runs/<run>"; exit 2)
	$(PY) -m dbc_jax.main --mode=eval --workdir=$(WORKDIR) $(ARGS)

video: install
	@test -n "$(WORKDIR)" || (echo "usage: make video WORKDIR=runs/<run> [ARGS='--num_episodes=4']"; exit 2)
	$(PY) -m dbc_jax.video --workdir=$(WORKDIR) $(ARGS)

demos: check-env install
	$(PY) -m dbc_jax.main --mode=demos --config=$(CONFIG) $(ARGS)

export-minari: install
	@test -n "$(DATA)" -a -n "$(ID)" || (echo "usage: make export-minari DATA=<.npz|.pt> ID=<namespace/name-v0> [ENV=<task>]"; exit 2)
	$(PY) -m dbc_jax.data.minari_format --data=$(DATA) --dataset_id=$(ID) $(if $(filter command line,$(origin ENV)),--env=$(ENV)) $(ARGS)

expert: check-env install
	$(PY) -m dbc_jax.experts.sac --env=$(ENV) $(ARGS)

test: install
	$(PY) -m pytest -q -rsx -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(ARGS)

test-slow: install
	$(PY) -m pytest -q -rsx -m slow $(ARGS)

bench: install
	$(PY) experiments/bench_$(BENCH).py $(ARGS)

generalization: install
	$(PY) experiments/generalization.py --preset $(PRESET) $(ARGS)

paper-table: install
	$(PY) experiments/paper_table.py --preset $(PRESET) $(ARGS)

compare: install
	$(PY) experiments/compare.py --preset $(PRESET) $(ARGS)

ablation-models: install
	$(PY) experiments/ablation_models.py --preset $(PRESET) $(ARGS)

sweep: install
	$(PY) experiments/sweep.py --env $(ENV) --preset $(PRESET) --algo $(ALGO) $(ARGS)

manifold: install
	$(PY) experiments/manifold.py $(ARGS)

multimodal: install
	$(PY) experiments/multimodal.py --preset $(PRESET) $(ARGS)

agent-data: install
	$(PY) experiments/agent_data.py --preset $(PRESET) $(ARGS)

clean:
	rm -rf $(VENV) runs data
