# Two commands for a newcomer: `make run` (set up, then compare the demo models) and `make test`.
# Each is idempotent and creates its own virtual environment in .venv/.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO := local_models/SmolLM2-135M-Instruct.Q4_1.gguf
DEMO_Q2 := local_models/SmolLM2-135M-Instruct.Q2_K.gguf
# llama.cpp is compiled from source on the first install; the multimodal part is not used.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: setup run demo test bench package clean

setup: $(STAMP) $(DEMO) $(DEMO_Q2)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing ModelScout; the first install compiles llama.cpp (about 8 minutes on 2 cores)..."
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

$(DEMO): | $(STAMP)
	$(BIN)/python scripts/fetch_models.py

$(DEMO_Q2): | $(DEMO)
	$(BIN)/modelscout models quantize $(DEMO) --type Q2_K --out $@

# The desktop app, on the demo models with the demo suite open; without a display, the headless demo.
run: setup
	@$(BIN)/python -m compileall -q desktop_app
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ]; then \
		$(BIN)/python -m desktop_app; \
	else \
		echo "No display found: running the headless comparison instead (make demo)."; \
		$(MAKE) --no-print-directory demo; \
	fi

demo: setup
	$(BIN)/modelscout run --suite resources/suites/demo.jsonl --model $(DEMO) --model $(DEMO_Q2)

# Bytecode for the project's own modules first (a second or less when up to date): every model worker and
# command the tests start reads it instead of compiling the sources again, which it would do each time where
# PYTHONDONTWRITEBYTECODE is set (pip compiled the libraries when it installed them).
test: setup
	$(BIN)/python -m compileall -q desktop_app tests
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/engine_overhead.py
	$(BIN)/python benchmarks/metadata_speed.py
	$(BIN)/python benchmarks/startup_time.py
	$(BIN)/python benchmarks/worker_start.py
	$(BIN)/python benchmarks/suite_throughput.py
	$(BIN)/python benchmarks/suite_throughput.py --suite benchmarks/suites/writing.jsonl
	$(BIN)/python benchmarks/ui_responsiveness.py
	$(BIN)/python benchmarks/api_overhead.py

# The packaged app: dist/ModelScout/ (its executable `modelscout`) and a .tar.gz beside it, then checked
# in a bare environment (self-test with the demo model, time to window). See packaging/build.py.
package: setup
	$(BIN)/python -m pip install --quiet -e '.[package]'
	$(BIN)/python packaging/build.py
	$(BIN)/python packaging/check.py --model $(DEMO)

clean:
	rm -rf $(VENV) $(DEMO_Q2) build/pyinstaller dist
