# nvb_perception: every target builds what is missing first (scripts/setup.sh is idempotent).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
ENV := source scripts/env.sh
PYTEST_ARGS ?=

.PHONY: setup test lint check-layout demo bench-pose bench-ergonomics eval-lifting eval-ergonomics eval-cues bench-cues eval-actions bench-actions bench-graph soak action-model lock clean

setup:
	@scripts/setup.sh

lint: setup
	@$(ENV) && ruff check nvb_perception tests benchmarks scripts launch mediapipe_reference

# import cycles, runtime code importing offline rooms, file and node sizes; RESULT {...} as the last line
check-layout: setup
	@$(ENV) && python scripts/check_layout.py

test: setup lint
	@$(ENV) && python -m pytest $(PYTEST_ARGS)

demo: setup
	@$(ENV) && python -m nvb_perception.offline.demo $(DEMO_ARGS)

bench-pose: setup
	@scripts/setup_mediapipe_ref.sh
	@$(ENV) && python benchmarks/bench_pose.py $(BENCH_ARGS)

bench-ergonomics: setup
	@$(ENV) && python benchmarks/bench_ergonomics.py $(BENCH_ARGS)

eval-lifting: setup
	@$(ENV) && python -m nvb_perception.evaluation.eval_lifter --plots out/eval_lifting --json out/eval_lifting/result.json $(EVAL_ARGS)

eval-ergonomics: setup
	@$(ENV) && python -m nvb_perception.evaluation.eval_ergonomics $(EVAL_ARGS)

eval-cues: setup
	@$(ENV) && python -m nvb_perception.evaluation.eval_cues $(EVAL_ARGS)

bench-cues: setup
	@$(ENV) && python benchmarks/bench_cues.py $(BENCH_ARGS)

eval-actions: setup
	@$(ENV) && python -m nvb_perception.evaluation.eval_actions $(EVAL_ARGS)

# an action head trained on vtest.avi's motion labels, where action_node looks by default
action-model: setup
	@$(ENV) && python -m nvb_perception.training.train_actions --video "$$NVB_PERCEPTION_ASSETS/data/opencv/vtest.avi" \
	  --motion-labels --kind flow --out out/actions/model --export

bench-actions: setup
	@$(ENV) && python benchmarks/bench_actions.py $(BENCH_ARGS)

bench-graph: setup
	@$(ENV) && python benchmarks/bench_graph.py $(BENCH_ARGS)

# the full graph at 30 Hz for 10 minutes on looped real video: memory and queues must stay flat
soak: setup
	@$(ENV) && python benchmarks/soak.py $(SOAK_ARGS)

# Re-resolve requirements.in into requirements.lock in a throw-away venv.
lock:
	@rm -rf .lock-venv && python3.11 -m venv .lock-venv \
	  && .lock-venv/bin/pip install -q -r requirements.in \
	  && .lock-venv/bin/python scripts/write_lock.py > requirements.lock && rm -rf .lock-venv \
	  && echo "requirements.lock: $$(grep -vc '^#' requirements.lock) pinned distributions"

clean:
	rm -rf build install log out
