/*
 * STM32F407 register map: only the registers this firmware touches.
 *
 * Addresses and bit positions follow RM0090 (section 2.3 for the memory map, the register
 * sections of each peripheral) and ST's CMSIS device header stm32f407xx.h; where ST's SVD file
 * disagrees, the header wins (e.g. PWR_CR.VOS, which the SVD lacks).
 * Plain macros rather than structs so that every access names its register.
 */
#ifndef BOARD_STM32F407_H
#define BOARD_STM32F407_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- memory map ----------------------------------------------------------------------------- */
#define FLASH_BASE_ADDR     0x08000000u
#define SRAM_BASE_ADDR      0x20000000u
#define CCM_BASE_ADDR       0x10000000u

/* ---- RCC (0x4002_3800) ---------------------------------------------------------------------- */
#define RCC_BASE            0x40023800u
#define RCC_CR              REG32(RCC_BASE + 0x00)
#define RCC_PLLCFGR         REG32(RCC_BASE + 0x04)
#define RCC_CFGR            REG32(RCC_BASE + 0x08)
#define RCC_AHB1RSTR        REG32(RCC_BASE + 0x10)
#define RCC_AHB2RSTR        REG32(RCC_BASE + 0x14)
#define RCC_AHB1ENR         REG32(RCC_BASE + 0x30)
#define RCC_AHB2ENR         REG32(RCC_BASE + 0x34)
#define RCC_APB1ENR         REG32(RCC_BASE + 0x40)
#define RCC_APB2ENR         REG32(RCC_BASE + 0x44)
#define RCC_CSR             REG32(RCC_BASE + 0x74)

#define RCC_CR_HSEON        (1u << 16)
#define RCC_CR_HSERDY       (1u << 17)
#define RCC_CR_PLLON        (1u << 24)
#define RCC_CR_PLLRDY       (1u << 25)

#define RCC_PLLCFGR_RSVD29  (1u << 29)          /* reads 1 at reset; keep it */
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_PLLCFGR_M(m)    ((uint32_t)(m) << 0)
#define RCC_PLLCFGR_N(n)    ((uint32_t)(n) << 6)
#define RCC_PLLCFGR_P(p)    ((uint32_t)((p) / 2 - 1) << 16)  /* 2,4,6,8 -> 00..11 */
#define RCC_PLLCFGR_Q(q)    ((uint32_t)(q) << 24)

#define RCC_CFGR_SW_MASK    (3u << 0)
#define RCC_CFGR_SW_PLL     (2u << 0)
#define RCC_CFGR_SWS_MASK   (3u << 2)
#define RCC_CFGR_SWS_PLL    (2u << 2)
#define RCC_CFGR_HPRE_MASK  (0xFu << 4)
#define RCC_CFGR_HPRE_DIV1  (0u << 4)
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)

#define RCC_AHB1_GPIOA      (1u << 0)
#define RCC_AHB1_GPIOB      (1u << 1)
#define RCC_AHB1_GPIOC      (1u << 2)
#define RCC_AHB1_GPIOD      (1u << 3)
#define RCC_AHB1_ETHMAC     (1u << 25)
#define RCC_AHB1_ETHMACTX   (1u << 26)
#define RCC_AHB1_ETHMACRX   (1u << 27)
#define RCC_AHB1RSTR_ETHMAC (1u << 25)
#define RCC_AHB2_RNG        (1u << 6)
#define RCC_APB1_USART2     (1u << 17)
#define RCC_APB1_PWR        (1u << 28)
#define RCC_APB2_USART1     (1u << 4)
#define RCC_APB2_SYSCFG     (1u << 14)

/* ---- FLASH interface (0x4002_3C00) and PWR (0x4000_7000) ----------------------------------- */
#define FLASH_ACR           REG32(0x40023C00u)
#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTEN    (1u << 8)
#define FLASH_ACR_ICEN      (1u << 9)
#define FLASH_ACR_DCEN      (1u << 10)

#define PWR_CR              REG32(0x40007000u)
#define PWR_CR_VOS          (1u << 14)          /* missing from the SVD; header bit 14 */

/* ---- SYSCFG (0x4001_3800) -------------------------------------------------------------------- */
#define SYSCFG_PMC          REG32(0x40013804u)
#define SYSCFG_PMC_MII_RMII_SEL (1u << 23)

/* ---- GPIO ------------------------------------------------------------------------------------ */
#define GPIOA_BASE          0x40020000u
#define GPIOB_BASE          0x40020400u
#define GPIOC_BASE          0x40020800u
#define GPIOD_BASE          0x40020C00u
#define GPIO_MODER(p)       REG32((p) + 0x00)
#define GPIO_OTYPER(p)      REG32((p) + 0x04)
#define GPIO_OSPEEDR(p)     REG32((p) + 0x08)
#define GPIO_PUPDR(p)       REG32((p) + 0x0C)
#define GPIO_AFRL(p)        REG32((p) + 0x20)
#define GPIO_AFRH(p)        REG32((p) + 0x24)

/* ---- USART1 (0x4001_1000, IRQ 37), USART2 (0x4000_4400, IRQ 38) ------------------------------ */
#define USART1_BASE         0x40011000u
#define USART2_BASE         0x40004400u
#define USART_SR(u)         REG32((u) + 0x00)
#define USART_DR(u)         REG32((u) + 0x04)
#define USART_BRR(u)        REG32((u) + 0x08)
#define USART_CR1(u)        REG32((u) + 0x0C)
#define USART_CR2(u)        REG32((u) + 0x10)
#define USART_CR3(u)        REG32((u) + 0x14)
#define USART_SR_PE         (1u << 0)
#define USART_SR_FE         (1u << 1)
#define USART_SR_NF         (1u << 2)
#define USART_SR_ORE        (1u << 3)
#define USART_SR_RXNE       (1u << 5)
#define USART_SR_TC         (1u << 6)
#define USART_SR_TXE        (1u << 7)
#define USART_CR1_RE        (1u << 2)
#define USART_CR1_TE        (1u << 3)
#define USART_CR1_RXNEIE    (1u << 5)
#define USART_CR1_TXEIE     (1u << 7)
#define USART_CR1_UE        (1u << 13)

/* ---- RNG (0x5006_0800, clock PLL48CLK) ------------------------------------------------------- */
#define RNG_CR              REG32(0x50060800u)
#define RNG_SR              REG32(0x50060804u)
#define RNG_DR              REG32(0x50060808u)
#define RNG_CR_RNGEN        (1u << 2)
#define RNG_SR_DRDY         (1u << 0)
#define RNG_SR_CECS         (1u << 1)
#define RNG_SR_SECS         (1u << 2)
#define RNG_SR_CEIS         (1u << 5)
#define RNG_SR_SEIS         (1u << 6)

/* ---- Ethernet MAC (0x4002_8000), MMC (+0x100), DMA (+0x1000); IRQ 61 ------------------------ */
#define ETH_BASE            0x40028000u
#define ETH_MACCR           REG32(ETH_BASE + 0x000)
#define ETH_MACFFR          REG32(ETH_BASE + 0x004)
#define ETH_MACHTHR         REG32(ETH_BASE + 0x008)
#define ETH_MACHTLR         REG32(ETH_BASE + 0x00C)
#define ETH_MACMIIAR        REG32(ETH_BASE + 0x010)
#define ETH_MACMIIDR        REG32(ETH_BASE + 0x014)
#define ETH_MACFCR          REG32(ETH_BASE + 0x018)
#define ETH_MACVLANTR       REG32(ETH_BASE + 0x01C)
#define ETH_MACIMR          REG32(ETH_BASE + 0x03C)
#define ETH_MACA0HR         REG32(ETH_BASE + 0x040)
#define ETH_MACA0LR         REG32(ETH_BASE + 0x044)
#define ETH_MMCRIMR         REG32(ETH_BASE + 0x10C)
#define ETH_MMCTIMR         REG32(ETH_BASE + 0x110)
#define ETH_DMABMR          REG32(ETH_BASE + 0x1000)
#define ETH_DMATPDR         REG32(ETH_BASE + 0x1004)
#define ETH_DMARPDR         REG32(ETH_BASE + 0x1008)
#define ETH_DMARDLAR        REG32(ETH_BASE + 0x100C)
#define ETH_DMATDLAR        REG32(ETH_BASE + 0x1010)
#define ETH_DMASR           REG32(ETH_BASE + 0x1014)
#define ETH_DMAOMR          REG32(ETH_BASE + 0x1018)
#define ETH_DMAIER          REG32(ETH_BASE + 0x101C)
#define ETH_DMAMFBOCR       REG32(ETH_BASE + 0x1020)

#define ETH_MACCR_RE        (1u << 2)
#define ETH_MACCR_TE        (1u << 3)
#define ETH_MACCR_DC        (1u << 4)
#define ETH_MACCR_BL_MASK   (3u << 5)
#define ETH_MACCR_APCS      (1u << 7)
#define ETH_MACCR_RD        (1u << 9)
#define ETH_MACCR_IPCO      (1u << 10)
#define ETH_MACCR_DM        (1u << 11)
#define ETH_MACCR_LM        (1u << 12)
#define ETH_MACCR_ROD       (1u << 13)
#define ETH_MACCR_FES       (1u << 14)
#define ETH_MACCR_CSD       (1u << 16)
#define ETH_MACCR_IFG_MASK  (7u << 17)
#define ETH_MACCR_JD        (1u << 22)
#define ETH_MACCR_WD        (1u << 23)
#define ETH_MACCR_CSTF      (1u << 25)

#define ETH_MACFCR_ZQPD     (1u << 7)
#define ETH_MACIMR_PMTIM    (1u << 3)
#define ETH_MACIMR_TSTIM    (1u << 9)

#define ETH_MACMIIAR_MB     (1u << 0)
#define ETH_MACMIIAR_MW     (1u << 1)
#define ETH_MACMIIAR_CR_MASK (7u << 2)
#define ETH_MACMIIAR_CR_DIV102 (4u << 2)         /* HCLK 150-168 MHz */
#define ETH_MACMIIAR_MR(r)  (((uint32_t)(r) & 0x1Fu) << 6)
#define ETH_MACMIIAR_PA(a)  (((uint32_t)(a) & 0x1Fu) << 11)

#define ETH_MMCRIMR_RFCEM   (1u << 5)
#define ETH_MMCRIMR_RFAEM   (1u << 6)
#define ETH_MMCRIMR_RGUFM   (1u << 17)
#define ETH_MMCTIMR_TGFSCM  (1u << 14)
#define ETH_MMCTIMR_TGFMSCM (1u << 15)
#define ETH_MMCTIMR_TGFM    (1u << 21)          /* header position; the SVD's bit 16 is wrong */

#define ETH_DMABMR_SR       (1u << 0)
#define ETH_DMABMR_EDFE     (1u << 7)
#define ETH_DMABMR_PBL(n)   ((uint32_t)(n) << 8)
#define ETH_DMABMR_FB       (1u << 16)
#define ETH_DMABMR_RDP(n)   ((uint32_t)(n) << 17)
#define ETH_DMABMR_USP      (1u << 23)
#define ETH_DMABMR_AAB      (1u << 25)

#define ETH_DMASR_TS        (1u << 0)
#define ETH_DMASR_TPSS      (1u << 1)
#define ETH_DMASR_TBUS      (1u << 2)
#define ETH_DMASR_TJTS      (1u << 3)
#define ETH_DMASR_ROS       (1u << 4)
#define ETH_DMASR_TUS       (1u << 5)
#define ETH_DMASR_RS        (1u << 6)
#define ETH_DMASR_RBUS      (1u << 7)
#define ETH_DMASR_RPSS      (1u << 8)
#define ETH_DMASR_RWTS      (1u << 9)
#define ETH_DMASR_ETS       (1u << 10)
#define ETH_DMASR_FBES      (1u << 13)
#define ETH_DMASR_ERS       (1u << 14)
#define ETH_DMASR_AIS       (1u << 15)
#define ETH_DMASR_NIS       (1u << 16)
/* every write-1-to-clear status bit (0-10, 13-16) */
#define ETH_DMASR_W1C_MASK  0x0001E7FFu

#define ETH_DMAOMR_SR       (1u << 1)
#define ETH_DMAOMR_OSF      (1u << 2)
#define ETH_DMAOMR_ST       (1u << 13)
#define ETH_DMAOMR_FTF      (1u << 20)
#define ETH_DMAOMR_TSF      (1u << 21)
#define ETH_DMAOMR_RSF      (1u << 25)

#define ETH_DMAIER_TIE      (1u << 0)
#define ETH_DMAIER_RBUIE    (1u << 7)
#define ETH_DMAIER_RIE      (1u << 6)
#define ETH_DMAIER_AISE     (1u << 15)
#define ETH_DMAIER_NISE     (1u << 16)

/* ---- Cortex-M4 system control space ---------------------------------------------------------- */
#define SCB_ICSR            REG32(0xE000ED04u)
#define SCB_VTOR            REG32(0xE000ED08u)
#define SCB_AIRCR           REG32(0xE000ED0Cu)
#define SCB_SHPR3           REG32(0xE000ED20u)
#define SCB_CFSR            REG32(0xE000ED28u)
#define SCB_HFSR            REG32(0xE000ED2Cu)
#define SCB_MMFAR           REG32(0xE000ED34u)
#define SCB_BFAR            REG32(0xE000ED38u)
#define SCB_CPACR           REG32(0xE000ED88u)
#define FPU_FPCCR           REG32(0xE000EF34u)
#define SYSTICK_CTRL        REG32(0xE000E010u)
#define SYSTICK_LOAD        REG32(0xE000E014u)
#define SYSTICK_VAL         REG32(0xE000E018u)

#define SCB_ICSR_PENDSVSET  (1u << 28)
#define SCB_ICSR_VECTACTIVE_MASK 0x1FFu
#define SCB_AIRCR_SYSRESET  ((0x05FAu << 16) | (1u << 2))
#define FPU_FPCCR_LSPEN     (1u << 30)
#define FPU_FPCCR_ASPEN     (1u << 31)

#define NVIC_ISER(n)        REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n)        REG32(0xE000E180u + 4u * (n))
#define NVIC_IPR_BYTE(irq)  (*(volatile uint8_t *)(uintptr_t)(0xE000E400u + (irq)))

#define NVIC_PRIO_BITS      4                   /* STM32F4: 16 priority levels, upper nibble */

#define IRQ_USART1          37
#define IRQ_USART2          38
#define IRQ_ETH             61
#define IRQ_COUNT           82                  /* vector positions 0-81 */

static inline void nvic_enable_irq(unsigned irq, unsigned priority)
{
    NVIC_IPR_BYTE(irq) = (uint8_t)(priority << (8 - NVIC_PRIO_BITS));
    NVIC_ISER(irq / 32) = 1u << (irq % 32);
}

static inline void nvic_disable_irq(unsigned irq)
{
    NVIC_ICER(irq / 32) = 1u << (irq % 32);
}

#define __dsb() __asm volatile("dsb" ::: "memory")
#define __dmb() __asm volatile("dmb" ::: "memory")
#define __isb() __asm volatile("isb" ::: "memory")

#endif /* BOARD_STM32F407_H */
