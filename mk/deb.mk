# make deb-check: build, lint, install (dpkg -i), try and purge the Debian
# packages (scripts/deb-check.sh; needs root).  deps installs debhelper
# and lintian with the rest: a fresh CI machine has neither.
deb-check: deps
	@sh scripts/deb-check.sh

.PHONY: deb-check
