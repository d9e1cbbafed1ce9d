/* VMs as JSON (vmjson.h). */
#include "vm/vmjson.h"

#include <stdio.h>
#include <string.h>

/* Contract in vmjson.h. */
json_t *vk_vminfo_json(const struct vk_vminfo *v, int longfmt)
{
    json_t *o = json_pack("{s:s, s:i, s:s?, s:i, s:i, s:s, s:f}", "name", v->name,
                          "id", v->id, "uuid", v->cfg.uuid, "memory", (int)v->cfg.memory,
                          "vcpus", (int)v->cfg.vcpus, "state", vk_vm_state_name(v->state),
                          "time", v->cpu_secs);
    if (!o || !longfmt)
        return o;
    char p[4200];
    json_t *disks = json_array(), *fw = json_array();
    for (unsigned i = 0; i < v->cfg.n_disks; i++) {
        const struct vk_diskspec *d = &v->cfg.disks[i];
        json_array_append_new(disks, json_pack("{s:s?, s:s?, s:s?, s:b, s:b}",
                                               "target", d->target, "vdev", d->vdev,
                                               "format", d->format, "readonly", d->readonly,
                                               "cdrom", d->cdrom));
    }
    for (unsigned i = 0; i < v->cfg.n_vifs; i++)
        for (unsigned j = 0; j < v->cfg.vifs[i].n_hostfwd; j++)
            json_array_append_new(fw, json_string(v->cfg.vifs[i].hostfwd[j]));
    json_object_set_new(o, "accel", json_string(strncmp(v->accel, "kvm", 3) ? "tcg" : "kvm"));
    json_object_set_new(o, "accel_reason", json_string(v->accel));
    json_object_set_new(o, "pid", v->pid ? json_integer(v->pid) : json_null());
    json_object_set_new(o, "monitor_pid", v->monitor ? json_integer(v->monitor) : json_null());
    json_object_set_new(o, "disks", disks);
    snprintf(p, sizeof p, "%s/console.sock", v->dir);
    json_object_set_new(o, "console", json_string(p));
    snprintf(p, sizeof p, "%s/console.log", v->dir);
    json_object_set_new(o, "console_log", json_string(p));
    json_object_set_new(o, "vnc", *v->vnc ? json_string(v->vnc) : json_null());
    json_object_set_new(o, "forwards", fw);
    json_object_set_new(o, "runtime_dir", json_string(v->dir));
    return o;
}

/* Contract in vmjson.h. */
json_t *vk_defined_json(const char *name, const struct vk_domcfg *cfg)
{
    return json_pack("{s:s, s:n, s:s?, s:i, s:i, s:s, s:n}", "name", name, "id", "uuid",
                     cfg->uuid, "memory", (int)cfg->memory, "vcpus", (int)cfg->vcpus,
                     "state", "shut off", "time");
}
