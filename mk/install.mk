# make install / make uninstall, and the shared library (included by the
# Makefile).
#   make install PREFIX=/usr/local DESTDIR=/tmp/root
#   make uninstall PREFIX=/usr/local DESTDIR=/tmp/root
# Nothing is written outside $(DESTDIR)$(PREFIX) (LIBDIR etc. default to
# directories under PREFIX; debian/rules sets LIBDIR to the multiarch one).
#
# Every library object is built with -fPIC -fvisibility=hidden, so the same
# objects make libvmkit.a (for the command and the tests) and
# libvmkit.so.$(SOVERSION), which exports only what mk/libvmkit.map lists:
# the functions of include/vmkit/vmkit.h.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
INSTALL    ?= install

SOVERSION  := 0
SONAME     := libvmkit.so.$(SOVERSION)
SHLIB      := $(BUILD)/libvmkit.so.$(VERSION)

CPPFLAGS += -Iinclude
# build/asan always holds the sanitizer build (as `make asan` makes it), also
# when a target such as install or man is asked for there directly.
ifeq ($(BUILD),build/asan)
CFLAGS = $(SAN)
LDFLAGS = $(SAN)
endif

include mk/pic.mk
include mk/man.mk
include mk/completion.mk
include mk/web.mk
include mk/deb.mk

all: $(SHLIB)

$(SHLIB): $(LIB_OBJ) mk/libvmkit.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
	    -Wl,--version-script=mk/libvmkit.map -Wl,--no-undefined \
	    -o $@ $(LIB_OBJ) $(SHLIB_LIBS)

# A directory under PREFIX as ${prefix}/..., so that
# `pkg-config --define-variable=prefix=DIR` finds a tree installed elsewhere.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

$(BUILD)/libvmkit.pc: mk/libvmkit.pc.in VERSION mk/install.mk
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|; s|@PKGS@|$(PKGS)|' $< >$@

# Rebuilt every time: PREFIX may differ from the last install.
.PHONY: $(BUILD)/libvmkit.pc

# What install puts where: "SOURCE DESTDIR-relative-target MODE" triples are
# spelled out in the recipe; uninstall removes this list.
INSTALLED = $(BINDIR)/vmkit $(LIBDIR)/libvmkit.so.$(VERSION) $(LIBDIR)/$(SONAME) \
            $(LIBDIR)/libvmkit.so $(LIBDIR)/libvmkit.a $(INCLUDEDIR)/vmkit/vmkit.h \
            $(LIBDIR)/pkgconfig/libvmkit.pc $(INSTALL_EXTRA)

# Fail before copying anything when the destination is not writable.
install-dest:
	@d='$(DESTDIR)$(PREFIX)'; p="$$d/.vmkit-install-probe.$$$$"; \
	if ! mkdir -p "$$d" 2>/dev/null || ! touch "$$p" 2>/dev/null; then \
	    echo "make install: $$d: not writable (choose DESTDIR/PREFIX you may write to, or run as root)" >&2; \
	    exit 1; fi; rm -f "$$p"

install: install-dest $(BUILD)/vmkit $(SHLIB) $(BUILD)/libvmkit.a $(BUILD)/libvmkit.pc $(INSTALL_DEPS)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(LIBDIR)/pkgconfig' '$(DESTDIR)$(INCLUDEDIR)/vmkit'
	$(INSTALL) -m 755 $(BUILD)/vmkit '$(DESTDIR)$(BINDIR)/vmkit'
	$(INSTALL) -m 644 $(SHLIB) '$(DESTDIR)$(LIBDIR)/libvmkit.so.$(VERSION)'
	ln -sf libvmkit.so.$(VERSION) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libvmkit.so'
	$(INSTALL) -m 644 $(BUILD)/libvmkit.a '$(DESTDIR)$(LIBDIR)/libvmkit.a'
	$(INSTALL) -m 644 include/vmkit/vmkit.h '$(DESTDIR)$(INCLUDEDIR)/vmkit/vmkit.h'
	$(INSTALL) -m 644 $(BUILD)/libvmkit.pc '$(DESTDIR)$(LIBDIR)/pkgconfig/libvmkit.pc'
	$(INSTALL_MAN)
	$(INSTALL_COMP)
	$(INSTALL_WEB)

uninstall:
	rm -f $(foreach f,$(INSTALLED),'$(DESTDIR)$(f)')
	-rmdir '$(DESTDIR)$(INCLUDEDIR)/vmkit' 2>/dev/null
	-rmdir '$(DESTDIR)$(WEBDIR)' '$(DESTDIR)$(dir $(WEBDIR))' 2>/dev/null

.PHONY: install install-dest uninstall
