# Andon: two commands from a fresh clone — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= data
PORT   ?= 8501

.PHONY: run test store venv dev-venv spark-venv chromium java lint format bench sample clean-store

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# the Spark engine's extras (pipelines/spark): for the tests and `--engine spark`, never for `make run`
$(BIN)/.spark: $(BIN)/.runtime requirements-spark.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-spark.txt
	touch $@

venv: $(BIN)/.runtime
dev-venv: $(BIN)/.dev
spark-venv: $(BIN)/.spark

# the embedded store, built from the committed sample plant on first use
$(STORE)/datasets/sample/batches: | $(BIN)/.runtime
	$(BIN)/python -m pipelines ingest sample_data --store $(STORE) --dataset sample

store: $(STORE)/datasets/sample/batches

run: venv store
	@if [ -f dashboard/streamlit_app.py ]; then \
		echo "Andon on http://localhost:$(PORT)"; \
		ANDON_STORE=$(STORE) $(BIN)/python dashboard/serve.py \
			--server.port $(PORT) --server.headless true; \
	else \
		$(BIN)/python -m pipelines kpis --store $(STORE); \
	fi

# Debian's chromium for the browser tests and the dashboard's PDF / PNG snapshots (Playwright drives
# it; its own download does not work offline)
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| { echo "apt-get install chromium failed"; exit 1; }; \
	else \
		echo "warning: /usr/bin/chromium missing and not root: browser tests will be skipped"; \
	fi

# a Java runtime for the local Spark session of the Spark tests (Debian's default-jre-headless)
java:
	@if command -v java >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian default-jre-headless for the Spark tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null) \
			|| { echo "apt-get install default-jre-headless failed"; exit 1; }; \
	else \
		echo "warning: java missing and not root: the Spark tests will be skipped"; \
	fi

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev-venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: dev-venv spark-venv chromium java lint
	$(BIN)/python -m pytest -q

# benchmarks run on generated large data, outside the test suite: see docs/benchmarks.md
# (SPARK=1: also the marts built on Spark local[2] beside DuckDB, benchmarks/spark_build.py)
bench: dev-venv chromium $(if $(SPARK),spark-venv java)
	$(BIN)/python benchmarks/run.py $(if $(HUGE),--huge) $(if $(SPARK),--spark)
	$(BIN)/python benchmarks/dashboard_big.py

sample: venv
	$(BIN)/python sample_data/generate.py

clean-store:
	rm -rf $(STORE)
