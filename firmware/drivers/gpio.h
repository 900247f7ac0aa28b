/* GPIO pin configuration (read-modify-write per pin: never rewrite a whole port, that would
 * take PA13/PA14 away from SWD). */
#ifndef DRIVERS_GPIO_H
#define DRIVERS_GPIO_H

#include <stdint.h>

enum gpio_pull { GPIO_PULL_NONE = 0, GPIO_PULL_UP = 1, GPIO_PULL_DOWN = 2 };

/* Alternate function `af` at very high speed, push-pull. */
void gpio_set_af(uint32_t port_base, unsigned pin, unsigned af, enum gpio_pull pull);

#endif
