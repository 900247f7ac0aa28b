/* Which variant this image is (compiled per variant; printed in the boot banner). */
#include "variant.h"

#ifndef FW_VARIANT_NAME
#error "FW_VARIANT_NAME must be set by the build (the variant's name, e.g. fixed or seedbug)"
#endif

/* One size for every variant of an application, so that its variants' images differ only where
 * their code does (the variant comparison in tests/firmware relies on it). */
_Static_assert(sizeof FW_VARIANT_NAME <= FW_VARIANT_NAME_SIZE,
               "variant name longer than FW_VARIANT_NAME_SIZE: raise the application's size in firmware/Makefile");

const char fw_variant_name[FW_VARIANT_NAME_SIZE] = FW_VARIANT_NAME;
