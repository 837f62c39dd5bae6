# SPDX-License-Identifier: GPL-2.0-or-later
#
# The two commands of the README:
#   make run     set up a fresh machine, build, run the main job
#   make check   run every test (what CI runs)

.PHONY: run check setup build export check-series clean

run:
	./scripts/run-main

check:
	./scripts/test

setup:
	./scripts/setup

build: setup
	./scripts/build

# The patch series for upstream review, and its apply-and-build check.
export: setup
	./scripts/export-series out/series

check-series: export
	./scripts/check-series out/series

clean:
	rm -rf .cache/qemu .cache/qemu-staging .cache/build .cache/tdxsim out
