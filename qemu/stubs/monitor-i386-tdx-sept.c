/*
 * query-tdx-sept where TDX support is not compiled in
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/qapi-commands-misc-i386.h"

TdxSeptInfo *qmp_query_tdx_sept(Error **errp)
{
    /* No TDX support, so the machine is not a TDX guest. */
    return g_new0(TdxSeptInfo, 1);
}
