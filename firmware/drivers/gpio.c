#include "stm32f407.h"
#include "gpio.h"

void gpio_set_af(uint32_t port_base, unsigned pin, unsigned af, enum gpio_pull pull)
{
    uint32_t two = 3u << (pin * 2);
    GPIO_OTYPER(port_base) &= ~(1u << pin);
    GPIO_OSPEEDR(port_base) = (GPIO_OSPEEDR(port_base) & ~two) | (3u << (pin * 2));
    GPIO_PUPDR(port_base) = (GPIO_PUPDR(port_base) & ~two) | ((uint32_t)pull << (pin * 2));
    if (pin < 8) {
        GPIO_AFRL(port_base) = (GPIO_AFRL(port_base) & ~(0xFu << (pin * 4))) | (af << (pin * 4));
    } else {
        unsigned shift = (pin - 8) * 4;
        GPIO_AFRH(port_base) = (GPIO_AFRH(port_base) & ~(0xFu << shift)) | (af << shift);
    }
    /* mode last, so the pin switches once its function is set up */
    GPIO_MODER(port_base) = (GPIO_MODER(port_base) & ~two) | (2u << (pin * 2));
}
