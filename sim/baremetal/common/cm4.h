/* Minimal Cortex-M4 System Control Space definitions and intrinsics for the small images.
 * Our own names (no CMSIS dependency); addresses from the ARMv7-M ARM (B3.2 System Control Space,
 * B3.3 SysTick, B3.4 NVIC). */
#ifndef CM4_H
#define CM4_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define REG8(addr)  (*(volatile uint8_t *)(addr))

/* NVIC */
#define NVIC_ISER(n)  REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n)  REG32(0xE000E180u + 4u * (n))
#define NVIC_ISPR(n)  REG32(0xE000E200u + 4u * (n))
#define NVIC_ICPR(n)  REG32(0xE000E280u + 4u * (n))
#define NVIC_IABR(n)  REG32(0xE000E300u + 4u * (n))
#define NVIC_IPR8(irq) REG8(0xE000E400u + (irq))
#define NVIC_STIR     REG32(0xE000EF00u)

/* SCB */
#define SCB_CPUID  REG32(0xE000ED00u)
#define SCB_ICSR   REG32(0xE000ED04u)
#define SCB_VTOR   REG32(0xE000ED08u)
#define SCB_AIRCR  REG32(0xE000ED0Cu)
#define SCB_SCR    REG32(0xE000ED10u)
#define SCB_CCR    REG32(0xE000ED14u)
#define SCB_SHPR8(exc) REG8(0xE000ED18u + (exc) - 4u)   /* system handler priority, exc 4..15 */
#define SCB_SHCSR  REG32(0xE000ED24u)
#define SCB_CFSR   REG32(0xE000ED28u)
#define SCB_HFSR   REG32(0xE000ED2Cu)
#define SCB_MMFAR  REG32(0xE000ED34u)
#define SCB_BFAR   REG32(0xE000ED38u)
#define SCB_CPACR  REG32(0xE000ED88u)
#define FPU_FPCCR  REG32(0xE000EF34u)
#define FPU_FPCAR  REG32(0xE000EF38u)

#define ICSR_PENDSVSET (1u << 28)
#define ICSR_PENDSTSET (1u << 26)

/* SysTick */
#define SYST_CSR   REG32(0xE000E010u)
#define SYST_RVR   REG32(0xE000E014u)
#define SYST_CVR   REG32(0xE000E018u)
#define SYST_CALIB REG32(0xE000E01Cu)

/* Exception numbers */
#define EXC_NMI 2
#define EXC_HARDFAULT 3
#define EXC_MEMMANAGE 4
#define EXC_BUSFAULT 5
#define EXC_USAGEFAULT 6
#define EXC_SVCALL 11
#define EXC_PENDSV 14
#define EXC_SYSTICK 15
#define EXC_IRQ(n) (16 + (n))

static inline void nvic_enable(unsigned irq)  { NVIC_ISER(irq >> 5) = 1u << (irq & 31); }
static inline void nvic_disable(unsigned irq) { NVIC_ICER(irq >> 5) = 1u << (irq & 31); }
static inline void nvic_pend(unsigned irq)    { NVIC_ISPR(irq >> 5) = 1u << (irq & 31); }
static inline void nvic_set_priority(unsigned irq, uint8_t prio) { NVIC_IPR8(irq) = prio; }

static inline void enable_irq(void)  { __asm volatile ("cpsie i" ::: "memory"); }
static inline void disable_irq(void) { __asm volatile ("cpsid i" ::: "memory"); }
static inline void dsb(void) { __asm volatile ("dsb" ::: "memory"); }
static inline void isb(void) { __asm volatile ("isb" ::: "memory"); }
static inline void wfi(void) { __asm volatile ("wfi" ::: "memory"); }

static inline void set_basepri(uint32_t v) { __asm volatile ("msr basepri, %0" :: "r"(v) : "memory"); }
static inline uint32_t get_basepri(void) { uint32_t v; __asm volatile ("mrs %0, basepri" : "=r"(v)); return v; }
static inline void set_primask(uint32_t v) { __asm volatile ("msr primask, %0" :: "r"(v) : "memory"); }
static inline void set_faultmask(uint32_t v) { __asm volatile ("msr faultmask, %0" :: "r"(v) : "memory"); }
static inline uint32_t get_ipsr(void) { uint32_t v; __asm volatile ("mrs %0, ipsr" : "=r"(v)); return v; }
static inline uint32_t get_control(void) { uint32_t v; __asm volatile ("mrs %0, control" : "=r"(v)); return v; }
static inline void set_control(uint32_t v) { __asm volatile ("msr control, %0\n isb" :: "r"(v) : "memory"); }
static inline uint32_t get_msp(void) { uint32_t v; __asm volatile ("mrs %0, msp" : "=r"(v)); return v; }
static inline uint32_t get_psp(void) { uint32_t v; __asm volatile ("mrs %0, psp" : "=r"(v)); return v; }
static inline void set_psp(uint32_t v) { __asm volatile ("msr psp, %0" :: "r"(v) : "memory"); }
static inline uint32_t get_lr(void) { uint32_t v; __asm volatile ("mov %0, lr" : "=r"(v)); return v; }

#endif
