/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tdxsim kshim: see kshim-kernel.h. */
#include "../kshim-kernel.h"
