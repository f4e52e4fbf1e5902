// The event contract shared by every stage: what a valid event looks like once parsed, and what each type means.

/** A validated event. `ts` is event time in epoch milliseconds; absent optional fields are null. */
export interface VigilEvent {
  id: string;
  customerId: string;
  type: string;
  ts: number;
  channel: string | null;
  value: number | null;
  segment: string | null;
  campaignId: string | null;
  props: Record<string, unknown> | null;
}

export type EventCategory = 'engagement' | 'purchase' | 'touch' | 'negative' | 'privacy' | 'experience' | 'other';

export const ENGAGEMENT_TYPES = [
  'session_start',
  'page_view',
  'click',
  'search',
  'add_to_cart',
  'purchase',
  'email_open',
  'email_click',
  'push_open',
  'app_open',
] as const;
export const TOUCH_TYPES = ['email_sent', 'push_sent', 'sms_sent'] as const;
export const NEGATIVE_TYPES = [
  'unsubscribe',
  'complaint',
  'support_ticket',
  'payment_failed',
  'refund',
  'cancel_subscription',
] as const;
export const PRIVACY_TYPES = ['consent_granted', 'consent_withdrawn', 'erase_request'] as const;
/**
 * Brand experience evidence (contract 1.1): product (P), interactive (C) and other customers' voice (O). They count as
 * activity but move neither engagement nor fatigue; refund, payment_failed and support_ticket stay negative and are
 * experience evidence too (windows/experienceEvidence.ts says what each weighs).
 */
export const EXPERIENCE_TYPES = [
  'return_requested',
  'defect_reported',
  'product_rating',
  'ticket_resolved',
  'csat_response',
  'checkout_failed',
  'error_page',
  'delivery_delayed',
  'review_posted',
  'survey_response',
  'public_complaint',
] as const;

export const KNOWN_TYPES: readonly string[] = [...ENGAGEMENT_TYPES, ...TOUCH_TYPES, ...NEGATIVE_TYPES, ...PRIVACY_TYPES, ...EXPERIENCE_TYPES];

const categoryByType = new Map<string, EventCategory>([
  ...ENGAGEMENT_TYPES.map((t) => [t, 'engagement'] as const),
  ['purchase', 'purchase'],
  ...TOUCH_TYPES.map((t) => [t, 'touch'] as const),
  ...NEGATIVE_TYPES.map((t) => [t, 'negative'] as const),
  ...PRIVACY_TYPES.map((t) => [t, 'privacy'] as const),
  ...EXPERIENCE_TYPES.map((t) => [t, 'experience'] as const),
]);

/** Unknown types are accepted and fall in 'other'; they count in activity and weigh what config gives them. */
export function categoryOf(type: string): EventCategory {
  return categoryByType.get(type) ?? 'other';
}

/** The channel an outbound touch went through, from its type when the event did not name one. */
export function touchChannel(type: string, channel: string | null): string {
  if (channel) return channel;
  if (type === 'email_sent') return 'email';
  if (type === 'push_sent') return 'push';
  if (type === 'sms_sent') return 'sms';
  return 'other';
}

/** Engagement types that are a response to an outbound touch (used by the fatigue signal). */
export const RESPONSE_TYPES: ReadonlySet<string> = new Set(['email_open', 'email_click', 'push_open', 'click']);
