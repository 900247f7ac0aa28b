#include "list.h"

void list_init(list_t *list)
{
    list->end.next = &list->end;
    list->end.prev = &list->end;
    list->end.value = portMAX_DELAY;
    list->end.owner = NULL;
    list->end.container = NULL;
    list->count = 0;
    list->index = &list->end;
}

void list_item_init(list_item_t *item, void *owner)
{
    item->next = item->prev = NULL;
    item->value = 0;
    item->owner = owner;
    item->container = NULL;
}

static void link_before(list_t *list, list_item_t *pos, list_item_t *item)
{
    item->next = pos;
    item->prev = pos->prev;
    pos->prev->next = item;
    pos->prev = item;
    item->container = list;
    list->count++;
}

void list_insert_end(list_t *list, list_item_t *item)
{
    link_before(list, list->index, item);
}

void list_insert_sorted(list_t *list, list_item_t *item)
{
    list_item_t *pos = list->end.next;
    while (pos != &list->end && pos->value <= item->value) {
        pos = pos->next;
    }
    link_before(list, pos, item);
}

void list_insert_by_deadline(list_t *list, list_item_t *item, TickType_t now)
{
    int32_t key = (int32_t)(item->value - now);
    list_item_t *pos = list->end.next;
    while (pos != &list->end && (int32_t)(pos->value - now) <= key) {
        pos = pos->next;
    }
    link_before(list, pos, item);
}

void list_remove(list_item_t *item)
{
    list_t *list = item->container;
    if (list == NULL) {
        return;
    }
    if (list->index == item) {
        list->index = item->prev;
    }
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->next = item->prev = NULL;
    item->container = NULL;
    list->count--;
}

void *list_next_owner(list_t *list)
{
    list->index = list->index->next;
    if (list->index == &list->end) {
        list->index = list->index->next;
    }
    return list->index->owner;
}
