/* Kernel-private doubly linked lists with a sentinel, holding tasks. */
#ifndef KERNEL_LIST_H
#define KERNEL_LIST_H

#include "FreeRTOS.h"

struct list;

typedef struct list_item {
    struct list_item *next;
    struct list_item *prev;
    TickType_t value;           /* sort key: wake-up tick, or inverted priority */
    void *owner;                /* the task */
    struct list *container;     /* NULL when in no list */
} list_item_t;

typedef struct list {
    list_item_t end;            /* sentinel */
    UBaseType_t count;
    list_item_t *index;         /* round-robin cursor (ready lists) */
} list_t;

void list_init(list_t *list);
void list_item_init(list_item_t *item, void *owner);
/* Insert so that the item is the last one list_next_owner() returns in this round. */
void list_insert_end(list_t *list, list_item_t *item);
/* Ascending by value, after items with an equal value (FIFO among equals). */
void list_insert_sorted(list_t *list, list_item_t *item);
/* Ascending by deadline, comparing (value - now) so the tick counter may wrap. */
void list_insert_by_deadline(list_t *list, list_item_t *item, TickType_t now);
void list_remove(list_item_t *item);
/* Advance the cursor and return the owner it lands on (list must not be empty). */
void *list_next_owner(list_t *list);

static inline int list_is_empty(const list_t *list)
{
    return list->count == 0;
}

static inline list_item_t *list_head(list_t *list)
{
    return list->end.next;
}

#endif
