/* Internal to the xl.cfg reader (cfgfmt.c parses, cfgkeys.c interprets).
 *
 * Values are what libxlu makes of them: every atom is a string (a NUMBER
 * token keeps its text and is converted with strtol base 0 when a key
 * wants a number, as xlu_cfg_get_long does, so "0400" is 256 and a quoted
 * "256" is a number too); lists hold values and nest. */
#ifndef VK_VM_CFG_INT_H
#define VK_VM_CFG_INT_H

#include "vm/config.h"
#include <stddef.h>

#define VK_CFG_MAX_DEPTH 8    /* list nesting; deeper is refused */

struct vk_cfgval {
    int list;                 /* 1: it/n hold the items; 0: s is the atom */
    int num;                  /* the atom was an unquoted NUMBER token */
    char *s;
    struct vk_cfgval *it;
    unsigned n;
    int line, col;
};

/* One `key = value` or `key += value` of the text, in order.  add is 1 for
 * `+=`.  The callee may take v's contents (leaving v zeroed).  Returns 0
 * or a negative errno after vk_error. */
struct vk_cfgpos { const char *fname; int line, col; };
typedef int (*vk_cfg_setfn)(void *ctx, const char *key, int add, struct vk_cfgval *v,
                            const struct vk_cfgpos *keypos);

/* Parse len bytes of xl.cfg text, calling fn for each setting.  bare_ok
 * (command-line overrides) takes an unquoted word as a string.  Errors:
 * -EINVAL "FNAME:LINE:COL: what"; a text that looks like Python (xm's
 * configs were Python programs) says so and how to convert it. */
int vk_cfg_parse_text(const char *text, size_t len, const char *fname, int bare_ok,
                      vk_cfg_setfn fn, void *ctx);

void vk_cfgval_free(struct vk_cfgval *v);

/* Apply one setting to *c (cfgkeys.c); the vk_cfg_setfn for a domcfg. */
int vk_cfg_apply(void *c, const char *key, int add, struct vk_cfgval *v,
                 const struct vk_cfgpos *keypos);

#endif
