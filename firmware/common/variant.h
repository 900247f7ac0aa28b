/* The variant's name (fixed, seedbug, autopost-fixed, ...), set by the build per variant. */
#ifndef COMMON_VARIANT_H
#define COMMON_VARIANT_H

#ifndef FW_VARIANT_NAME_SIZE
#define FW_VARIANT_NAME_SIZE 8
#endif

extern const char fw_variant_name[FW_VARIANT_NAME_SIZE];

#endif
