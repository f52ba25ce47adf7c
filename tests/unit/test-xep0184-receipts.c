// SPDX-License-Identifier: GPL-3.0-or-later
/* Tests of xep0184-receipts: being written (issue 3). */
#include "pxm-test.h"

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	return g_test_run();
}
