// The simulator's event: the contract's JSON shape as the population and its experience model produce it.
export interface SimEvent {
  id: string;
  customerId: string;
  type: string;
  ts: number;
  channel?: string;
  value?: number;
  segment?: string;
  campaignId?: string;
  props?: Record<string, unknown>;
}
