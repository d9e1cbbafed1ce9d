# xterm.js, the terminal of serve's serial console: fetched from the npm
# registry at build time (never from a CDN when the page runs), pinned by
# version and by the sha512 of its tarball (npm's "integrity", checked here
# again with openssl), and copied next to the page as web/xterm.js and
# web/xterm.css.  Without npm the build stops and says what is missing.
XTERM_VERSION := 5.5.0
XTERM_SHA512  := hqJHYaQb5OptNunnyAnkHyM8aCjZ1MEIDTQu1iIbbTD/xops91NB5yq1ZK/dC2JDbVWtF23zUtl9JE2NqwT87A==
XTERM_TGZ     := $(BUILD)/npm/xterm-xterm-$(XTERM_VERSION).tgz
XTERM_FILES   := $(BUILD)/web/xterm.js $(BUILD)/web/xterm.css

$(XTERM_TGZ): mk/xterm.mk
	@command -v npm >/dev/null || { echo "make: npm not found: xterm.js (vmkit serve's console) is fetched from the npm registry at build time; install npm (sh scripts/deps.sh)" >&2; exit 1; }
	@rm -rf $@.d && mkdir -p $@.d
	npm pack --silent --pack-destination $@.d @xterm/xterm@$(XTERM_VERSION) >/dev/null
	@sum=$$(openssl dgst -sha512 -binary $@.d/xterm-xterm-$(XTERM_VERSION).tgz | base64 -w0); \
	if [ "$$sum" != '$(XTERM_SHA512)' ]; then \
	    echo "make: @xterm/xterm@$(XTERM_VERSION): sha512 $$sum, expected $(XTERM_SHA512)" >&2; exit 1; fi
	mv $@.d/xterm-xterm-$(XTERM_VERSION).tgz $@ && rmdir $@.d

$(BUILD)/web/xterm.js: $(XTERM_TGZ)
	@mkdir -p $(dir $@)
	tar -xzOf $< package/lib/xterm.js >$@.tmp && mv $@.tmp $@

$(BUILD)/web/xterm.css: $(XTERM_TGZ)
	@mkdir -p $(dir $@)
	tar -xzOf $< package/css/xterm.css >$@.tmp && mv $@.tmp $@
