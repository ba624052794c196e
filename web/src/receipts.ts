import { reactive } from 'vue';

/**
 * Tracking codes of the cases opened in this tab. The service shows a code once (it stores only
 * a hash), so the receipt page takes it from here; it is kept in memory only, never stored.
 */
export const openedCodes = reactive(new Map<string, { reference: string; trackingCode: string }>());
