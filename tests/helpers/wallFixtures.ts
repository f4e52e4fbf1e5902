// Builders for the wall's frames and config, and one realistic scene for the browser test, the screenshot and the demo server.
import type { AlertView, AtRiskEntry, AtRiskIntervals, ExperienceCell, OverloadCell, ProcessorStats } from '../../src/contract/frames.js';
import type { VigilConfig } from '../../src/config/schema.js';

export function buildWallConfig(overrides: Partial<VigilConfig['wall']> = {}): VigilConfig['wall'] {
  return {
    host: '127.0.0.1',
    port: 0,
    allowOpen: false,
    allowedOrigins: [],
    allowedHosts: [],
    maxConnections: 1_000,
    maxMessagesPerSecond: 50,
    transport: 'auto',
    tokens: { viewer: [], responder: [] },
    privacyTokens: [],
    frameIntervalMs: 50,
    alertFrameIntervalMs: 10,
    maxBufferedBytes: 1024 * 1024,
    atRiskListSize: 50,
    ...overrides,
  };
}

export function buildStats(overrides: Partial<ProcessorStats> = {}): ProcessorStats {
  return {
    ts: Date.now(),
    eventsPerSec: 1_000,
    eventsTotal: 1_000_000,
    rejectedTotal: 12,
    lateTotal: 3,
    lagMs: 120,
    pending: 40,
    activeCustomers: 25_000,
    clickhouseBufferedRows: 800,
    uptimeS: 3_600,
    ...overrides,
  };
}

/** The labels the engine gives an alert (src/alerts/engine.ts alertLabels): what silences match and the feed groups by. */
export function labelsFor(alert: Pick<AlertView, 'rule' | 'severity' | 'subject'>, extra: Record<string, string> = {}): Record<string, string> {
  const labels: Record<string, string> = { ...extra, alertname: alert.rule, severity: alert.severity, subject_kind: alert.subject.kind, subject_key: alert.subject.key };
  if (alert.subject.kind !== 'customer' && alert.subject.kind !== 'processor') labels[alert.subject.kind] = alert.subject.key;
  return labels;
}

export function buildAlert(overrides: Partial<AlertView> = {}): AlertView {
  const now = Date.now();
  const alert: AlertView = {
    id: 'alert-1',
    fingerprint: 'fp-1',
    rule: 'customer_churn_risk',
    severity: 'warning',
    state: 'firing',
    subject: { kind: 'customer', key: 'c-1' },
    value: 0.86,
    threshold: 0.8,
    reasons: ['no purchase in 94 days'],
    labels: {},
    summary: 'Customer c-1 is likely to churn',
    startsAt: now - 60_000,
    updatedAt: now,
    endsAt: null,
    acknowledged: null,
    trigger: null,
    ...overrides,
  };
  // Labels as the engine would make them, unless the test set its own.
  return overrides.labels ? alert : { ...alert, labels: labelsFor(alert) };
}

/** 90 % intervals around a P(alive) and a value at risk, of the widths a fit on a few thousand buyers gives. */
export function buildIntervals(pAlive: number, valueAtRisk: number): AtRiskIntervals {
  return {
    pAlive: { estimate: pAlive, lower: Math.round(pAlive * 75) / 100, upper: Math.min(0.99, Math.round(pAlive * 130) / 100), level: 0.9 },
    expectedPurchases90d: { estimate: pAlive * 2, lower: pAlive * 1.5, upper: pAlive * 2.6, level: 0.9 },
    valueAtRisk: { estimate: valueAtRisk, lower: Math.round(valueAtRisk * 0.79), upper: Math.round(valueAtRisk * 1.22), level: 0.9 },
  };
}

export function buildAtRisk(overrides: Partial<AtRiskEntry> = {}): AtRiskEntry {
  return { customerId: 'c-1', risk: 0.8, pAlive: 0.2, valueAtRisk: 420, reasons: ['no purchase in 94 days'], updatedAt: Date.now(), ...overrides };
}

export function buildOverloadCell(overrides: Partial<OverloadCell> = {}): OverloadCell {
  return { kind: 'channel', key: 'email', touches24h: 10_000, overloadedCustomers: 12, negatives1h: 3, surgeZ: 0.4, ...overrides };
}

/** A plausible busy afternoon: the numbers a person would expect to see on the wall. Deterministic given `now`. */
export function buildExperienceCell(overrides: Partial<ExperienceCell> = {}): ExperienceCell {
  return { kind: 'product', key: 'sku-0001', index: 62, trend: 0.4, volume: 140, reason: null, ...overrides };
}

/** A defect wave on one product, the segments its buyers are in dragged down with it, the rest steady. */
export function experienceScene(): ExperienceCell[] {
  const product = (key: string, index: number, trend: number, volume: number, reason: string | null = null) => buildExperienceCell({ kind: 'product', key, index, trend, volume, reason });
  const segment = (key: string, index: number, trend: number, volume: number, reason: string | null = null) => buildExperienceCell({ kind: 'segment', key, index, trend, volume, reason });
  return [
    product('sku-blender-x200', 21.6, -24.3, 212, '14 refunds in 7 days; rated 1.8 by 212; 9 defects reported'),
    product('sku-kettle-k7', 41.2, -6.8, 96, '5 returns in 7 days; 3 deliveries delayed'),
    product('sku-toaster-t1', 48.9, -0.6, 310, 'rated 3.1 by 310'),
    product('sku-grinder-g3', 57.5, 1.9, 88, 'rated 4.2 by 88'),
    product('sku-mixer-m5', 66.0, 0.3, 140, 'rated 4.5 by 140'),
    product('sku-press-p9', 71.8, 3.4, 52, 'rated 4.7 by 52; 2 tickets resolved in under 1 h'),
    segment('kitchen-enthusiasts', 33.9, -14.1, 4_820, '612 customers below 35; tickets open 3.2 days on average'),
    segment('new-customers', 44.7, -5.2, 12_400, '1,904 failed checkouts in 7 days'),
    segment('vip', 52.3, -1.1, 2_310, 'NPS 31 from 488 answers'),
    segment('regular', 58.0, 0.2, 88_100, null),
  ];
}

export function demoScene(now = Date.now()) {
  const statsAt = (i: number): ProcessorStats => {
    const wave = Math.sin(i / 23) * 1_900 + Math.sin(i / 7) * 600;
    return buildStats({
      ts: now - (300 - i) * 1_000,
      eventsPerSec: Math.round(17_500 + wave + (i > 240 ? (i - 240) * 55 : 0)),
      eventsTotal: 212_400_000 + i * 18_000,
      rejectedTotal: 1_283 + Math.floor(i / 10),
      lateTotal: 412 + Math.floor(i / 25),
      lagMs: Math.round(140 + Math.abs(Math.sin(i / 17)) * 90 + (i > 250 ? (i - 250) * 9 : 0)),
      pending: 2_140 + Math.round(Math.abs(wave)),
      activeCustomers: 1_024_331 + i * 3,
      clickhouseBufferedRows: 36_220 + (i % 40) * 310,
      uptimeS: 3 * 3_600 + 12 * 60 + i,
      model: {
        version: 'bgnbd-gg:2026-11-23T06:00:00Z',
        fittedAt: '2026-11-23T06:00:00Z',
        chosen: 'pareto_nbd',
        drift: 'drifted',
        driftReasons: ['r 0.243 → 0.610 (+151 %, limit ±50 %)'],
      },
    });
  };
  const statsHistory = Array.from({ length: 300 }, (_, i) => statsAt(i));
  const stats = statsAt(300);

  const reasonsPool = [
    ['no purchase in 94 days', 'engagement −68% over 14 d', 'P(alive) 0.18'],
    ['payment failed twice', 'support ticket open 3 d'],
    ['unsubscribed from email', 'complaint 2 d ago'],
    ['sessions down 81% week over week', 'cart abandoned ×3'],
    ['subscription cancel started', 'P(alive) 0.31'],
  ];
  const atRisk: AtRiskEntry[] = Array.from({ length: 18 }, (_, i) => {
    const pAlive = Math.round((0.12 + i * 0.02) * 100) / 100;
    const valueAtRisk = Math.round(2_480 / (1 + i * 0.35));
    return buildAtRisk({
      customerId: `c-${(104_823 + i * 7_919).toString()}`,
      risk: Math.round((0.97 - i * 0.019) * 1_000) / 1_000,
      pAlive,
      valueAtRisk,
      reasons: reasonsPool[i % reasonsPool.length],
      updatedAt: now - i * 9_000,
      // every third customer was scored without a fitted covariance: no interval
      ...(i % 3 === 2 ? {} : { intervals: buildIntervals(pAlive, valueAtRisk) }),
    });
  });

  const overload: OverloadCell[] = [
    buildOverloadCell({ kind: 'campaign', key: 'spring-sale', touches24h: 1_284_000, overloadedCustomers: 4_212, negatives1h: 388, surgeZ: 6.4, checked: 1_200, suppressed: 312, suppressedByChannel: { email: 300, push: 12 } }),
    buildOverloadCell({ kind: 'channel', key: 'sms', touches24h: 96_400, overloadedCustomers: 1_108, negatives1h: 211, surgeZ: 4.9 }),
    buildOverloadCell({ kind: 'campaign', key: 'price-drop-alerts', touches24h: 402_000, overloadedCustomers: 1_730, negatives1h: 97, surgeZ: 3.1 }),
    buildOverloadCell({ kind: 'channel', key: 'email', touches24h: 2_940_000, overloadedCustomers: 5_620, negatives1h: 164, surgeZ: 2.2 }),
    buildOverloadCell({ kind: 'channel', key: 'push', touches24h: 1_610_000, overloadedCustomers: 880, negatives1h: 41, surgeZ: 0.9 }),
    buildOverloadCell({ kind: 'campaign', key: 'winback-q2', touches24h: 188_000, overloadedCustomers: 312, negatives1h: 28, surgeZ: 0.6 }),
    buildOverloadCell({ kind: 'campaign', key: 'onboarding-day-3', touches24h: 74_000, overloadedCustomers: 40, negatives1h: 6, surgeZ: -0.3 }),
    buildOverloadCell({ kind: 'segment', key: 'vip', touches24h: 51_000, overloadedCustomers: 96, negatives1h: 9, surgeZ: 1.4 }),
  ];

  const alerts: AlertView[] = [
    buildAlert({
      id: 'a-campaign-spring-sale',
      rule: 'campaign_overload',
      severity: 'critical',
      subject: { kind: 'campaign', key: 'spring-sale' },
      value: 4_212,
      threshold: 50,
      reasons: ['4,212 customers over the email cap today', 'unsubscribes ×5.8 baseline'],
      summary: 'Campaign spring-sale overloaded 4,212 customers today',
      startsAt: now - 14 * 60_000,
      updatedAt: now - 20_000,
    }),
    buildAlert({
      id: 'a-channel-sms-surge',
      rule: 'channel_negative_surge',
      severity: 'critical',
      subject: { kind: 'channel', key: 'sms' },
      value: 4.9,
      threshold: 4,
      reasons: ['211 negatives in the last hour', 'STOP replies ×4.2 baseline'],
      summary: 'Complaints and unsubscribes on SMS are surging',
      startsAt: now - 6 * 60_000,
      updatedAt: now - 5_000,
    }),
    buildAlert({
      id: 'a-customer-c-104823',
      rule: 'customer_churn_risk',
      severity: 'warning',
      subject: { kind: 'customer', key: 'c-104823' },
      value: 0.97,
      threshold: 0.8,
      reasons: ['no purchase in 94 days', 'engagement −68% over 14 d', 'value at risk 2,480'],
      summary: 'High-value customer c-104823 is likely to churn',
      startsAt: now - 41 * 60_000,
      updatedAt: now - 60_000,
      acknowledged: { by: 'maria', at: now - 35 * 60_000 },
    }),
    buildAlert({
      id: 'a-processor-lag',
      rule: 'processor_lag',
      severity: 'critical',
      state: 'pending',
      subject: { kind: 'processor', key: 'vigil-1' },
      value: 31_200,
      threshold: 30_000,
      reasons: ['consumer lag rising for 18 s'],
      summary: 'Processing lag over 30 s',
      startsAt: now - 18_000,
      updatedAt: now - 1_000,
    }),
    buildAlert({
      id: 'a-channel-push-surge',
      rule: 'channel_negative_surge',
      severity: 'critical',
      state: 'resolved',
      subject: { kind: 'channel', key: 'push' },
      value: 1.6,
      threshold: 4,
      reasons: ['back under z 2 for 5 min'],
      summary: 'Push opt-outs back to normal',
      startsAt: now - 95 * 60_000,
      updatedAt: now - 22 * 60_000,
      endsAt: now - 22 * 60_000,
    }),
  ];

  return { stats, statsHistory, atRisk, overload, experience: experienceScene(), alerts };
}
