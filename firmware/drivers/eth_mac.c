/*
 * STM32F4 Ethernet MAC/DMA driver (RM0090 section 33): RMII selected while the MAC is held in
 * reset, DMABMR.SR polled with a timeout, the write-settle re-write after MACCR/MACFFR/MACFCR/
 * MACVLANTR/DMAOMR/DMABMR writes (errata ES0182), MMC and PMT/TST interrupts masked,
 * store-and-forward both ways (TX checksum insertion needs TSF), enhanced chained descriptors.
 * The ISR clears what it saw in DMASR (including NIS/AIS) and only signals semaphores.
 */
#include <string.h>

#include "stm32f407.h"
#include "gpio.h"
#include "eth_mac.h"

#include "FreeRTOS.h"
#include "semphr.h"
#include "task.h"

/* Priority 6: numerically above configMAX_SYSCALL_INTERRUPT_PRIORITY (5): may call FromISR APIs */
#define ETH_IRQ_PRIORITY 6u

__attribute__((aligned(32))) eth_dma_desc_t eth_tx_desc[ETH_TX_DESC_COUNT];
__attribute__((aligned(32))) eth_dma_desc_t eth_rx_desc[ETH_RX_DESC_COUNT];
__attribute__((aligned(4))) uint8_t eth_tx_buffers[ETH_TX_DESC_COUNT][ETH_TX_BUF_SIZE];
__attribute__((aligned(4))) uint8_t eth_rx_buffers[ETH_RX_DESC_COUNT][ETH_RX_BUF_SIZE];

struct eth_stats eth_stats;

static eth_dma_desc_t *tx_cur;
static eth_dma_desc_t *rx_cur;
static SemaphoreHandle_t rx_event;
static SemaphoreHandle_t tx_done;

/* Erratum workaround (ES0182/ES0206 "successive writes to the same register"): write, read
 * back, wait at least four TX_CLK/RX_CLK cycles (1.6 us at 10 Mb/s), write again. */
static void reg_write_settled(volatile uint32_t *reg, uint32_t value)
{
    *reg = value;
    (void)*reg;
    for (volatile uint32_t i = 0; i < 200; i++) {
    }
    *reg = value;
}

static int wait_clear(volatile uint32_t *reg, uint32_t mask, uint32_t timeout_ms)
{
    TickType_t start = xTaskGetTickCount();
    while (*reg & mask) {
        if (xTaskGetTickCount() - start > pdMS_TO_TICKS(timeout_ms)) {
            return -1;
        }
        vTaskDelay(pdMS_TO_TICKS(1));
    }
    return 0;
}

static void eth_pins_init(void)
{
    RCC_AHB1ENR |= RCC_AHB1_GPIOA | RCC_AHB1_GPIOB | RCC_AHB1_GPIOC;
    (void)RCC_AHB1ENR;
    /* RMII on AF11: REF_CLK PA1, MDIO PA2, CRS_DV PA7, TX_EN PB11, TXD0 PB12, TXD1 PB13,
     * MDC PC1, RXD0 PC4, RXD1 PC5 */
    static const struct { uint32_t port; uint8_t pin; } pins[] = {
        {GPIOA_BASE, 1}, {GPIOA_BASE, 2}, {GPIOA_BASE, 7},
        {GPIOB_BASE, 11}, {GPIOB_BASE, 12}, {GPIOB_BASE, 13},
        {GPIOC_BASE, 1}, {GPIOC_BASE, 4}, {GPIOC_BASE, 5},
    };
    for (unsigned i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        gpio_set_af(pins[i].port, pins[i].pin, 11, GPIO_PULL_NONE);
    }
}

int eth_mac_init(void)
{
    if (rx_event == NULL) {
        rx_event = xSemaphoreCreateBinary();
        tx_done = xSemaphoreCreateBinary();
        configASSERT(rx_event != NULL && tx_done != NULL);
    }
    nvic_disable_irq(IRQ_ETH);
    eth_pins_init();

    /* RMII must be selected while the MAC is in reset, before its clocks run
     * (RM0090 9.2.2, SYSCFG_PMC) */
    RCC_APB2ENR |= RCC_APB2_SYSCFG;
    (void)RCC_APB2ENR;
    RCC_AHB1RSTR |= RCC_AHB1RSTR_ETHMAC;
    SYSCFG_PMC |= SYSCFG_PMC_MII_RMII_SEL;
    (void)SYSCFG_PMC;
    RCC_AHB1ENR |= RCC_AHB1_ETHMAC | RCC_AHB1_ETHMACTX | RCC_AHB1_ETHMACRX;
    (void)RCC_AHB1ENR;
    RCC_AHB1RSTR &= ~RCC_AHB1RSTR_ETHMAC;

    /* the DMA reset completes only with the PHY's 50 MHz REF_CLK present */
    ETH_DMABMR |= ETH_DMABMR_SR;
    if (wait_clear(&ETH_DMABMR, ETH_DMABMR_SR, 500) != 0) {
        return ETH_ERR_DMA_RESET;
    }
    ETH_MACMIIAR = ETH_MACMIIAR_CR_DIV102;
    return ETH_OK;
}

static void descriptors_init(void)
{
    for (unsigned i = 0; i < ETH_TX_DESC_COUNT; i++) {
        eth_dma_desc_t *d = &eth_tx_desc[i];
        memset((void *)d, 0, sizeof *d);
        d->des0 = ETH_TDES0_TCH;
        d->des2 = (uint32_t)(uintptr_t)eth_tx_buffers[i];
        d->des3 = (uint32_t)(uintptr_t)&eth_tx_desc[(i + 1) % ETH_TX_DESC_COUNT];
    }
    for (unsigned i = 0; i < ETH_RX_DESC_COUNT; i++) {
        eth_dma_desc_t *d = &eth_rx_desc[i];
        memset((void *)d, 0, sizeof *d);
        d->des1 = ETH_RDES1_RCH | ETH_RX_BUF_SIZE;
        d->des2 = (uint32_t)(uintptr_t)eth_rx_buffers[i];
        d->des3 = (uint32_t)(uintptr_t)&eth_rx_desc[(i + 1) % ETH_RX_DESC_COUNT];
        d->des0 = ETH_RDES0_OWN;
    }
    tx_cur = &eth_tx_desc[0];
    rx_cur = &eth_rx_desc[0];
    __dsb();
    ETH_DMATDLAR = (uint32_t)(uintptr_t)eth_tx_desc;
    ETH_DMARDLAR = (uint32_t)(uintptr_t)eth_rx_desc;
}

int eth_mac_start(const uint8_t mac[6], int speed_100, int full_duplex)
{
    /* MACCR: watchdog and jabber on, 96-bit IFG, carrier sense on, receive-own on, retry
     * disabled (full duplex), no pad/CRC stripping (CSTF=0, so RX length = FL - 4), no RX
     * checksum offload (lwIP checks in software), deferral check off */
    uint32_t maccr = ETH_MACCR;
    maccr &= ~(ETH_MACCR_CSTF | ETH_MACCR_WD | ETH_MACCR_JD | ETH_MACCR_IFG_MASK |
               ETH_MACCR_CSD | ETH_MACCR_FES | ETH_MACCR_ROD | ETH_MACCR_LM | ETH_MACCR_DM |
               ETH_MACCR_IPCO | ETH_MACCR_RD | ETH_MACCR_APCS | ETH_MACCR_BL_MASK |
               ETH_MACCR_DC | ETH_MACCR_TE | ETH_MACCR_RE);
    maccr |= ETH_MACCR_RD;
    if (speed_100) {
        maccr |= ETH_MACCR_FES;
    }
    if (full_duplex) {
        maccr |= ETH_MACCR_DM;
    }
    reg_write_settled(&ETH_MACCR, maccr);

    /* perfect unicast filter, broadcast accepted, control frames blocked, not promiscuous */
    reg_write_settled(&ETH_MACFFR, 0);
    ETH_MACHTHR = 0;
    ETH_MACHTLR = 0;
    reg_write_settled(&ETH_MACFCR, ETH_MACFCR_ZQPD);
    reg_write_settled(&ETH_MACVLANTR, 0);

    /* MMC counters would raise a never-ending interrupt at half range (RM0090 33.8.2, MMCRIMR/MMCTIMR;
     * FreeRTOS-Plus-TCP PR #775 fixed the same storm) */
    ETH_MMCRIMR = ETH_MMCRIMR_RGUFM | ETH_MMCRIMR_RFAEM | ETH_MMCRIMR_RFCEM;
    ETH_MMCTIMR = ETH_MMCTIMR_TGFM | ETH_MMCTIMR_TGFMSCM | ETH_MMCTIMR_TGFSCM;
    ETH_MACIMR = ETH_MACIMR_TSTIM | ETH_MACIMR_PMTIM;

    /* byte 0 is transmitted first and lives in the low byte of MACA0LR */
    ETH_MACA0HR = ((uint32_t)mac[5] << 8) | mac[4];
    ETH_MACA0LR = ((uint32_t)mac[3] << 24) | ((uint32_t)mac[2] << 16) |
                  ((uint32_t)mac[1] << 8) | mac[0];

    /* store-and-forward both ways (TX checksum insertion works only with TSF), operate on
     * second frame, drop frames with TCP/IP checksum errors (only relevant with IPCO) */
    reg_write_settled(&ETH_DMAOMR, ETH_DMAOMR_RSF | ETH_DMAOMR_TSF | ETH_DMAOMR_OSF);
    /* address-aligned fixed bursts of 32 beats, separate RX PBL, enhanced descriptors */
    reg_write_settled(&ETH_DMABMR, ETH_DMABMR_AAB | ETH_DMABMR_FB | ETH_DMABMR_RDP(32) |
                                       ETH_DMABMR_PBL(32) | ETH_DMABMR_USP | ETH_DMABMR_EDFE);

    descriptors_init();

    ETH_DMASR = ETH_DMASR_W1C_MASK;
    ETH_DMAIER = ETH_DMAIER_NISE | ETH_DMAIER_RIE | ETH_DMAIER_TIE | ETH_DMAIER_AISE |
                 ETH_DMAIER_RBUIE;

    /* start order (HAL_ETH_Start in ST's stm32f4xx_hal_eth.c): TE, RE, flush TX FIFO, DMA TX, DMA RX */
    reg_write_settled(&ETH_MACCR, ETH_MACCR | ETH_MACCR_TE);
    reg_write_settled(&ETH_MACCR, ETH_MACCR | ETH_MACCR_RE);
    ETH_DMAOMR |= ETH_DMAOMR_FTF;
    if (wait_clear(&ETH_DMAOMR, ETH_DMAOMR_FTF, 100) != 0) {
        return ETH_ERR_TX_FLUSH;
    }
    reg_write_settled(&ETH_DMAOMR, ETH_DMAOMR | ETH_DMAOMR_ST);
    reg_write_settled(&ETH_DMAOMR, ETH_DMAOMR | ETH_DMAOMR_SR);

    nvic_enable_irq(IRQ_ETH, ETH_IRQ_PRIORITY);
    return ETH_OK;
}

eth_dma_desc_t *eth_tx_current(void)
{
    return tx_cur;
}

eth_dma_desc_t *eth_desc_next(const eth_dma_desc_t *desc)
{
    return (eth_dma_desc_t *)(uintptr_t)desc->des3;
}

static unsigned tx_desc_needed(uint32_t frame_len)
{
    return (unsigned)((frame_len + ETH_TX_BUF_SIZE - 1) / ETH_TX_BUF_SIZE);
}

static int tx_descs_free(unsigned count)
{
    const eth_dma_desc_t *d = tx_cur;
    for (unsigned i = 0; i < count; i++) {
        if (d->des0 & ETH_TDES0_OWN) {
            return 0;
        }
        d = eth_desc_next(d);
    }
    return 1;
}

int eth_tx_reserve(uint32_t frame_len, uint32_t timeout_ms)
{
    unsigned count = tx_desc_needed(frame_len);
    if (count == 0 || count > ETH_TX_DESC_COUNT) {
        return -1;
    }
    TickType_t start = xTaskGetTickCount();
    while (!tx_descs_free(count)) {
        TickType_t waited = xTaskGetTickCount() - start;
        if (waited >= pdMS_TO_TICKS(timeout_ms)) {
            eth_stats.tx_busy++;
            return -1;
        }
        /* TS (IC on each frame's last descriptor) wakes us; the timeout covers a lost one */
        (void)xSemaphoreTake(tx_done, pdMS_TO_TICKS(timeout_ms) - waited);
    }
    return 0;
}

void eth_tx_submit(uint32_t frame_len)
{
    eth_dma_desc_t *descs[ETH_TX_DESC_COUNT];
    unsigned count = tx_desc_needed(frame_len);
    uint32_t left = frame_len;
    eth_dma_desc_t *d = tx_cur;

    for (unsigned i = 0; i < count; i++) {
        uint32_t chunk = left > ETH_TX_BUF_SIZE ? ETH_TX_BUF_SIZE : left;
        uint32_t ctrl = ETH_TDES0_TCH | ETH_TDES0_CIC_FULL;
        if (i == 0) {
            ctrl |= ETH_TDES0_FS;
        }
        if (i == count - 1) {
            ctrl |= ETH_TDES0_LS | ETH_TDES0_IC;
        }
        d->des1 = chunk & ETH_TDES1_TBS1_MASK;
        d->des0 = ctrl;
        descs[i] = d;
        left -= chunk;
        d = eth_desc_next(d);
    }
    /* hand over the later segments first: the DMA may start as soon as the first is owned */
    for (unsigned i = count; i-- > 1;) {
        descs[i]->des0 |= ETH_TDES0_OWN;
    }
    __dmb();
    descs[0]->des0 |= ETH_TDES0_OWN;
    tx_cur = d;
    __dsb();

    eth_stats.tx_frames++;
    eth_stats.tx_bytes += frame_len;

    /* TX suspends on a descriptor it does not own (TBUS) or on underflow (TUS): resume */
    uint32_t sr = ETH_DMASR;
    if (sr & (ETH_DMASR_TBUS | ETH_DMASR_TUS)) {
        ETH_DMASR = sr & (ETH_DMASR_TBUS | ETH_DMASR_TUS);
    }
    ETH_DMATPDR = 0;
}

void eth_rx_wait(uint32_t timeout_ms)
{
    (void)xSemaphoreTake(rx_event, pdMS_TO_TICKS(timeout_ms));
}

static void rx_give_back(eth_dma_desc_t *first, unsigned count)
{
    eth_dma_desc_t *d = first;
    for (unsigned i = 0; i < count; i++) {
        d->des1 = ETH_RDES1_RCH | ETH_RX_BUF_SIZE;
        __dmb();
        d->des0 = ETH_RDES0_OWN;
        d = eth_desc_next(d);
    }
    rx_cur = d;
    __dsb();
    /* resume a suspended RX DMA (RBUS) and let it poll now */
    if (ETH_DMASR & ETH_DMASR_RBUS) {
        ETH_DMASR = ETH_DMASR_RBUS;
    }
    ETH_DMARPDR = 0;
}

int eth_rx_next(struct eth_rx_frame *frame)
{
    for (;;) {
        eth_dma_desc_t *first = rx_cur;
        eth_dma_desc_t *d = first;
        unsigned count = 0;
        uint32_t status;
        for (;;) {
            status = d->des0;
            if (status & ETH_RDES0_OWN) {
                return 0;               /* nothing (more) complete */
            }
            count++;
            if ((status & ETH_RDES0_LS) || count == ETH_RX_DESC_COUNT) {
                break;
            }
            d = eth_desc_next(d);
        }
        uint32_t fl = (status & ETH_RDES0_FL_MASK) >> ETH_RDES0_FL_SHIFT;
        int good = (first->des0 & ETH_RDES0_FS) && (status & ETH_RDES0_LS) &&
                   !(status & ETH_RDES0_ES) && fl >= 14 + ETH_FCS_LEN &&
                   fl <= ETH_MAX_FRAME_LEN + ETH_FCS_LEN;
        if (!good) {
            eth_stats.rx_errors++;
            rx_give_back(first, count);
            continue;
        }
        frame->first = first;
        frame->desc_count = count;
        frame->len = fl - ETH_FCS_LEN;  /* CSTF=0: the FCS is in the buffer and in FL */
        eth_stats.rx_frames++;
        eth_stats.rx_bytes += frame->len;
        return 1;
    }
}

void eth_rx_release(const struct eth_rx_frame *frame)
{
    rx_give_back(frame->first, frame->desc_count);
}

void ETH_IRQHandler(void)
{
    BaseType_t woken = pdFALSE;
    uint32_t sr = ETH_DMASR;

    /* clear exactly what was seen, summaries included (NIS and AIS are sticky) */
    ETH_DMASR = sr & ETH_DMASR_W1C_MASK;
    eth_stats.irqs++;

    if (sr & ETH_DMASR_RBUS) {
        eth_stats.rx_buffer_unavailable++;
    }
    if (sr & ETH_DMASR_AIS) {
        eth_stats.abnormal++;
    }
    if (sr & ETH_DMASR_FBES) {
        eth_stats.fatal_bus_errors++;
    }
    if (sr & (ETH_DMASR_RS | ETH_DMASR_RBUS)) {
        xSemaphoreGiveFromISR(rx_event, &woken);
    }
    if (sr & ETH_DMASR_TS) {
        xSemaphoreGiveFromISR(tx_done, &woken);
    }
    portYIELD_FROM_ISR(woken);
}
