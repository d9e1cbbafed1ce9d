# Shell completion (completion/): installed by make install.
INSTALL_EXTRA += $(BASHCOMPDIR)/vmkit $(ZSHCOMPDIR)/_vmkit
define INSTALL_COMP
$(INSTALL) -d '$(DESTDIR)$(BASHCOMPDIR)' '$(DESTDIR)$(ZSHCOMPDIR)'
	$(INSTALL) -m 644 completion/vmkit.bash '$(DESTDIR)$(BASHCOMPDIR)/vmkit'
	$(INSTALL) -m 644 completion/_vmkit '$(DESTDIR)$(ZSHCOMPDIR)/_vmkit'
endef
