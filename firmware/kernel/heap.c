/*
 * Kernel heap: first fit over an address-ordered free list, neighbours coalesced on free
 * (the behaviour of FreeRTOS's heap_4, our own code). With configAPPLICATION_ALLOCATED_HEAP the
 * application defines ucHeap, e.g. to place it in CCM.
 */
#include <string.h>

#include "FreeRTOS.h"
#include "task.h"

#if configAPPLICATION_ALLOCATED_HEAP
extern uint8_t ucHeap[configTOTAL_HEAP_SIZE];
#else
static uint8_t ucHeap[configTOTAL_HEAP_SIZE] __attribute__((aligned(portBYTE_ALIGNMENT)));
#endif

typedef struct block {
    struct block *next;         /* free blocks only */
    size_t size;                /* whole block including this header */
} block_t;

#define HEADER_SIZE ((sizeof(block_t) + portBYTE_ALIGNMENT - 1) & ~(size_t)(portBYTE_ALIGNMENT - 1))
#define MIN_SPLIT (HEADER_SIZE * 2)
#define ALLOCATED_BIT ((size_t)1 << (sizeof(size_t) * 8 - 1))

static block_t free_head;       /* sentinel; its next is the lowest free block */
static size_t free_bytes, min_free_bytes;
static int initialised;

static void heap_init(void)
{
    uintptr_t start = ((uintptr_t)ucHeap + portBYTE_ALIGNMENT - 1) & ~(uintptr_t)(portBYTE_ALIGNMENT - 1);
    size_t size = (size_t)((uintptr_t)ucHeap + configTOTAL_HEAP_SIZE - start) & ~(size_t)(portBYTE_ALIGNMENT - 1);
    block_t *first = (block_t *)start;
    first->next = NULL;
    first->size = size;
    free_head.next = first;
    free_head.size = 0;
    free_bytes = min_free_bytes = size;
    initialised = 1;
}

static void insert_free(block_t *block)
{
    block_t *prev = &free_head;
    while (prev->next != NULL && prev->next < block) {
        prev = prev->next;
    }
    block_t *next = prev->next;
    /* merge with the following block */
    if (next != NULL && (uint8_t *)block + block->size == (uint8_t *)next) {
        block->size += next->size;
        block->next = next->next;
    } else {
        block->next = next;
    }
    /* merge with the preceding block */
    if (prev != &free_head && (uint8_t *)prev + prev->size == (uint8_t *)block) {
        prev->size += block->size;
        prev->next = block->next;
    } else {
        prev->next = block;
    }
}

void *pvPortMalloc(size_t size)
{
    void *result = NULL;
    if (size == 0 || size > configTOTAL_HEAP_SIZE) {
        return NULL;
    }
    size_t need = (size + HEADER_SIZE + portBYTE_ALIGNMENT - 1) & ~(size_t)(portBYTE_ALIGNMENT - 1);

    taskENTER_CRITICAL();
    if (!initialised) {
        heap_init();
    }
    block_t *prev = &free_head;
    block_t *block = free_head.next;
    while (block != NULL && block->size < need) {
        prev = block;
        block = block->next;
    }
    if (block != NULL) {
        prev->next = block->next;
        if (block->size - need >= MIN_SPLIT) {
            block_t *rest = (block_t *)((uint8_t *)block + need);
            rest->size = block->size - need;
            block->size = need;
            insert_free(rest);
        }
        free_bytes -= block->size;
        if (free_bytes < min_free_bytes) {
            min_free_bytes = free_bytes;
        }
        block->size |= ALLOCATED_BIT;
        block->next = NULL;
        result = (uint8_t *)block + HEADER_SIZE;
    }
    taskEXIT_CRITICAL();

#if configUSE_MALLOC_FAILED_HOOK
    if (result == NULL) {
        vApplicationMallocFailedHook();
    }
#endif
    return result;
}

void vPortFree(void *ptr)
{
    if (ptr == NULL) {
        return;
    }
    block_t *block = (block_t *)((uint8_t *)ptr - HEADER_SIZE);
    configASSERT(block->size & ALLOCATED_BIT);
    taskENTER_CRITICAL();
    block->size &= ~ALLOCATED_BIT;
    free_bytes += block->size;
    insert_free(block);
    taskEXIT_CRITICAL();
}

size_t xPortGetFreeHeapSize(void)
{
    return free_bytes;
}

size_t xPortGetMinimumEverFreeHeapSize(void)
{
    return min_free_bytes;
}
