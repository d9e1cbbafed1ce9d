# make deb-check: build, lint, install (dpkg -i), try and purge the Debian
# packages (scripts/deb-check.sh; needs root).
deb-check:
	@sh scripts/deb-check.sh

.PHONY: deb-check
