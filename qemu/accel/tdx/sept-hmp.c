/*
 * TDX side-table S-EPT mode: info tdx-sept
 *
 * Copyright (c) 2026 The TDX side-table S-EPT authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-i386.h"
#include "monitor/hmp.h"
#include "monitor/hmp-target.h"
#include "monitor/monitor.h"

void hmp_info_tdx_sept(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(TdxSeptInfo) info = qmp_query_tdx_sept(&err);
    TdxSeptSideTableInfo *st;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!info->tdx) {
        monitor_printf(mon, "The machine is not a TDX guest\n");
        return;
    }
    monitor_printf(mon, "S-EPT mode: %s\n", TdxSeptMode_str(info->mode));
    st = info->side_table;
    if (!st) {
        return;
    }
    monitor_printf(mon, "Private leaves: %" PRIu64 " x 4 KiB, %" PRIu64
                   " x 2 MiB; S-EPT pages: %" PRIu64 "; pinned: %" PRIu64
                   " KiB\n", st->leaves_4k, st->leaves_2m, st->sept_pages,
                   st->pinned_pages * 4);
    monitor_printf(mon, "Conversions: %" PRIu64 " to private (%" PRIu64
                   " pages), %" PRIu64 " to shared (%" PRIu64 " pages), %"
                   PRIu64 " failed\n", st->to_private, st->pages_to_private,
                   st->to_shared, st->pages_to_shared,
                   st->failed_conversions);
    monitor_printf(mon, "Kernel calls: %" PRIu64 " (%" PRIu64 " resumed), "
                   "busy SEAMCALL retries: %" PRIu64 ", demotions: %" PRIu64
                   ", promotions: %" PRIu64 "\n", st->kernel_calls,
                   st->retries, st->busy_retries, st->demotions,
                   st->promotions);
    monitor_printf(mon, "Build: %" PRIu64 " pages in %" PRIu64 " us\n",
                   st->build_pages, st->build_ns / 1000);
}
