# vmkit serve's page (web/): make copies it to $(BUILD)/web, next to the
# binary, and make install to $(WEBDIR), where an installed serve looks.
WEBDIR ?= $(DATADIR)/vmkit/web
INSTALL_EXTRA += $(WEB_SRC:web/%=$(WEBDIR)/%)
define INSTALL_WEB
$(INSTALL) -d '$(DESTDIR)$(WEBDIR)'
	$(INSTALL) -m 644 $(WEB_SRC) '$(DESTDIR)$(WEBDIR)/'
endef
$(BUILD)/obj/src/cli/serve.o: CPPFLAGS += -DVMKIT_WEBDIR='"$(WEBDIR)"'
