/*
 * TDX side-table S-EPT mode: query-tdx-sept
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-i386.h"
#include "accel/tdx/sept.h"
#include "target/i386/kvm/tdx.h"

TdxSeptInfo *qmp_query_tdx_sept(Error **errp)
{
    g_autoptr(TdxSeptInfo) info = g_new0(TdxSeptInfo, 1);

    info->tdx = is_tdx_vm();
    if (!info->tdx) {
        return g_steal_pointer(&info);
    }
    info->has_mode = true;
    if (!tdx_sept_side_table_enabled()) {
        info->mode = TDX_SEPT_MODE_MIRROR;
        return g_steal_pointer(&info);
    }
    info->mode = TDX_SEPT_MODE_SIDE_TABLE;
    info->side_table = tdx_sept_side_table_info(errp);
    if (!info->side_table) {
        return NULL;
    }
    return g_steal_pointer(&info);
}
