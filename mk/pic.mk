# How library objects are compiled for the shared library (and, the same
# objects, the static one): position-independent, every symbol hidden but
# those include/vmkit/vmkit.h marks VMKIT_API.  The objects depend on this
# file, so changing the flags rebuilds them.
$(LIB_OBJ): CPPFLAGS += -fPIC -fvisibility=hidden
$(LIB_OBJ): mk/pic.mk
