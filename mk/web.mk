# vmkit serve's page (web/): make copies it to $(BUILD)/web, next to the
# binary, and make install to $(WEBDIR), where an installed serve looks;
# xterm.js comes from npm (mk/xterm.mk) and goes along.
include mk/xterm.mk
WEBDIR ?= $(DATADIR)/vmkit/web
INSTALL_EXTRA += $(WEB_SRC:web/%=$(WEBDIR)/%) $(XTERM_FILES:$(BUILD)/web/%=$(WEBDIR)/%)
INSTALL_DEPS += $(XTERM_FILES)
all: $(XTERM_FILES)
define INSTALL_WEB
$(INSTALL) -d '$(DESTDIR)$(WEBDIR)'
	$(INSTALL) -m 644 $(WEB_SRC) $(XTERM_FILES) '$(DESTDIR)$(WEBDIR)/'
endef
$(BUILD)/obj/src/cli/serve.o: CPPFLAGS += -DVMKIT_WEBDIR='"$(WEBDIR)"'
# noVNC for the display page (Debian's novnc package; not copied here)
NOVNCDIR ?= /usr/share/novnc
$(BUILD)/obj/src/cli/serve.o: CPPFLAGS += -DVMKIT_NOVNC_DIR='"$(NOVNCDIR)"'
