/* Which variant this image is (compiled per variant; printed in the boot banner). */
#ifndef FW_VARIANT_NAME
#error "FW_VARIANT_NAME must be set by the build (fixed or seedbug)"
#endif

const char fw_variant_name[8] = FW_VARIANT_NAME;
