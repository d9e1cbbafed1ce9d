# Man pages, written in scdoc (man/*.scd) and built into $(BUILD)/man/.
# vmkit.cfg(5)'s key lists come from the parser itself (man/cfgkeys.c).
#   make man

MAN1 := vmkit vmkit-img vmkit-part vmkit-fs vmkit-vm vmkit-guest vmkit-backup vmkit-tls
MANPAGES := $(MAN1:%=$(BUILD)/man/%.1) $(BUILD)/man/vmkit.cfg.5
SCDOC ?= scdoc

man: $(MANPAGES)

# Every page is written under a temporary name and renamed: two makes
# running at once (the package tests each run one) never see half a page.
$(BUILD)/man/%.1: man/%.1.scd man/tidy.awk
	@mkdir -p $(dir $@)
	$(SCDOC) <$< | awk -f man/tidy.awk >$@.$$$$ && mv $@.$$$$ $@

$(BUILD)/man/cfgkeys: man/cfgkeys.c $(BUILD)/libvmkit.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@.$$$$ $< $(BUILD)/libvmkit.a $(LDLIBS) && mv $@.$$$$ $@

$(BUILD)/man/vmkit.cfg.5.scd: man/vmkit.cfg.5.scd.in $(BUILD)/man/cfgkeys
	t=$@.$$$$; $(BUILD)/man/cfgkeys >$$t.keys && \
	    sed -e '/^@KEYS@$$/{r '"$$t.keys" -e 'd}' $< >$$t && mv $$t $@; \
	    rc=$$?; rm -f $$t.keys $$t; exit $$rc

$(BUILD)/man/vmkit.cfg.5: $(BUILD)/man/vmkit.cfg.5.scd man/tidy.awk
	$(SCDOC) <$< | awk -f man/tidy.awk >$@.$$$$ && mv $@.$$$$ $@

INSTALL_DEPS += man
INSTALL_EXTRA += $(MAN1:%=$(MANDIR)/man1/%.1) $(MANDIR)/man5/vmkit.cfg.5
define INSTALL_MAN
$(INSTALL) -d '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man5'
	$(INSTALL) -m 644 $(MAN1:%=$(BUILD)/man/%.1) '$(DESTDIR)$(MANDIR)/man1/'
	$(INSTALL) -m 644 $(BUILD)/man/vmkit.cfg.5 '$(DESTDIR)$(MANDIR)/man5/'
endef

.PHONY: man
