// The one config schema: every key Vigil reads, its default and its bounds. The TypeScript types derive from it.
// Over 400 lines on purpose: it is the single source of the config reference (docs.test.ts holds docs/config.md to
// it key by key), and the cross-key rules (loopback without tokens, budget windows) read several sections at once.
import { z } from 'zod';
import { isLoopbackAddress } from '../shared/loopback.js';

const duration = z.number().int().nonnegative();
const positive = z.number().positive();

export const alertRuleSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower snake case'),
    /** Which computed value the rule watches. */
    signal: z.enum(['churn_risk', 'engagement', 'engagement_trend', 'fatigue', 'experience', 'experience_trend', 'experience_drop', 'surge_z', 'overloaded_customers', 'suppressed_customers', 'lag_ms', 'pending_events', 'model_drift']),
    subject: z.enum(['customer', 'channel', 'segment', 'campaign', 'product', 'processor']),
    op: z.enum(['>', '>=', '<', '<=']).default('>'),
    threshold: z.number(),
    /** Hysteresis: a firing alert resolves only once the value crosses this (defaults to the threshold). */
    resolveThreshold: z.number().optional(),
    forMs: duration.default(0),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    labels: z.record(z.string(), z.string()).default({}),
    /** For rates over channels, segments and campaigns: the least volume in the window before the rule may fire. */
    minVolume: z.number().nonnegative().default(0),
    summary: z.string().optional(),
  })
  .strict();

const capSchema = z.object({ perDay: positive, perWeek: positive }).strict();
const countCap = z.number().int().nonnegative();
/** The hard bounds of a contact allowance: whatever the customer's engagement, it stays within them. */
const allowanceBoundsSchema = z.object({ minPerDay: countCap, maxPerDay: countCap, minPerWeek: countCap, maxPerWeek: countCap }).strict();
const hour = z.number().int().min(0).max(23);

export const configSchema = z
  .object({
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().default({}),
    nats: z
      .object({
        servers: z.string().default('nats://127.0.0.1:4222'),
        stream: z.string().regex(/^[A-Za-z0-9_-]+$/).default('EVENTS'),
        subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).default('events'),
        consumer: z.string().regex(/^[A-Za-z0-9_-]+$/).default('vigil'),
        /** Stream retention: how long and how much JetStream keeps (0 = unlimited). */
        maxAgeMs: duration.default(7 * 24 * 3_600_000),
        maxBytes: z.number().int().default(-1),
        /** JetStream's own deduplication window for publishers that set Nats-Msg-Id. */
        duplicateWindowMs: duration.default(120_000),
        deadLetterSubject: z.string().default('vigil.deadletter'),
        alertSubjectPrefix: z.string().default('alerts'),
        fetchBatch: z.number().int().min(1).max(10_000).default(1_000),
        ackWaitMs: duration.default(60_000),
        maxAckPending: z.number().int().min(1).default(100_000),
        /** Copies JetStream keeps of everything Vigil creates (stream, partials, checkpoints, KV buckets): 3 on a NATS cluster. */
        replicas: z.number().int().min(1).max(5).default(1),
        /** Secret, environment only (VIGIL_NATS__USER): the NATS user Vigil connects as, with `password`. Empty = no user. */
        user: z.string().default(''),
        /** Secret, environment only: VIGIL_NATS__PASSWORD. */
        password: z.string().default(''),
        /** Secret, environment only: VIGIL_NATS__TOKEN, for a server that authenticates by token instead of a user. */
        token: z.string().default(''),
        /** Path of a NATS credentials file (JWT and NKey seed, `nsc generate creds`); the path may sit in the file, the file itself is the secret. */
        credsFile: z.string().default(''),
      })
      .strict()
      .default({}),
    redis: z
      .object({
        /** In a file without credentials: `redis://user:pass@host` only from VIGIL_REDIS__URL. */
        url: z.string().default('redis://127.0.0.1:6379'),
        keyPrefix: z.string().default('vigil:'),
        /** Secret, environment only (VIGIL_REDIS__USERNAME): the Redis ACL user; empty = `default`. */
        username: z.string().default(''),
        /** Secret, environment only: VIGIL_REDIS__PASSWORD. */
        password: z.string().default(''),
      })
      .strict()
      .default({}),
    clickhouse: z
      .object({
        url: z.string().url().default('http://127.0.0.1:8123'),
        database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('vigil'),
        username: z.string().default('default'),
        /** Secret: set it with VIGIL_CLICKHOUSE__PASSWORD, not in the file. */
        password: z.string().default(''),
        requestTimeoutMs: duration.default(30_000),
        batch: z
          .object({
            maxRows: z.number().int().min(1).default(50_000),
            /** A batch is cut at the row that takes its RowBinary encoding to this many bytes. */
            maxBytes: z.number().int().min(1_024).default(8 * 1024 * 1024),
            maxDelayMs: duration.default(2_000),
          })
          .strict()
          .default({}),
        /**
         * Where rows wait while ClickHouse cannot take them: memory, then local disk, then backpressure (consumption
         * pauses; nothing is dropped). Replaces `maxBufferedRows`, whose role `spill.maxMemoryRows` took over.
         */
        spill: z
          .object({
            /** Spill files go to `<dir>/<database>/`; relative to the working directory unless absolute. */
            dir: z.string().min(1).default('.vigil/spill'),
            /** Rows held in memory beyond which queued batches are written to disk. */
            maxMemoryRows: z.number().int().min(1).default(500_000),
            /** Disk bound: a batch that would pass it stays in memory; at it consumption pauses. 0 = no disk tier. */
            maxBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
          })
          .strict()
          .default({}),
        retry: z
          .object({ initialDelayMs: duration.default(500), maxDelayMs: duration.default(30_000) })
          .strict()
          .default({}),
        /** The read-only user for analysts and Grafana, created by the migrations on servers with SQL access control. */
        analyst: z
          .object({
            user: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('vigil_analyst'),
            /** Secret: VIGIL_CLICKHOUSE__ANALYST__PASSWORD only. Empty: the user is not created. */
            password: z.string().default(''),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    ingest: z
      .object({
        maxPayloadBytes: z.number().int().min(256).default(64 * 1024),
        maxIdLength: z.number().int().min(1).max(1_024).default(128),
        maxCustomerIdLength: z.number().int().min(1).max(1_024).default(128),
        maxFieldLength: z.number().int().min(1).default(256),
        maxPropsDepth: z.number().int().min(1).max(64).default(8),
        /** Event time may lead the processor's clock by at most this much (clock skew). */
        maxFutureMs: duration.default(5 * 60_000),
        /** Event time may trail the processor's clock by at most this much before the event is invalid. */
        maxPastMs: duration.default(400 * 24 * 3_600_000),
        /** Events older than the watermark minus this are late: not counted, dead-lettered with reason LATE_EVENT. */
        allowedLatenessMs: duration.default(5 * 60_000),
      })
      .strict()
      .default({}),
    windows: z
      .object({
        /** Hard bound on customers held live; beyond it the least recently seen are evicted first. */
        maxCustomers: z.number().int().min(1).default(2_000_000),
        /** Hard bound on channels, segments and campaigns tracked; beyond it the least recently active are dropped. */
        maxEntities: z.number().int().min(1).default(100_000),
        /** Customers idle longer than this (event time) are evicted; at least the longest horizon (7 days). */
        idleEvictMs: duration.default(8 * 24 * 3_600_000),
      })
      .strict()
      .default({}),
    signals: z
      .object({
        /** Weight of each event type in the engagement score; unknown types weigh what is given here, else `defaultWeight`. */
        eventWeights: z.record(z.string(), z.number().nonnegative()).default({}),
        defaultWeight: z.number().nonnegative().default(0.5),
        /** Weighted engagement over 7 days at which the engagement score reaches 63 (1 - 1/e of 100). */
        engagementScale: positive.default(20),
        /** Outbound touch caps per channel; `all` bounds every channel together. */
        caps: z
          .record(z.string(), capSchema)
          .default({ email: { perDay: 2, perWeek: 7 }, push: { perDay: 3, perWeek: 12 }, sms: { perDay: 1, perWeek: 3 }, all: { perDay: 4, perWeek: 15 } }),
        surge: z
          .object({ minVolume: z.number().nonnegative().default(5), baselineHalfLifeMs: duration.default(60 * 60_000), bucketMs: duration.default(60_000) })
          .strict()
          .default({}),
        /**
         * Least event time between two customer_signals rows of one customer (at most one row per interval). A move
         * past `snapshotStep` inside it is owed: written at the next checkpoint or at the first derive after it.
         */
        snapshotIntervalMs: duration.default(60_000),
        /**
         * A customer_signals row is written only when a score moved by more than this since the customer's last row:
         * churn risk, P(alive) and fatigue as they are (0–1; fatigue 1 = at a cap), engagement divided by 100.
         */
        snapshotStep: z.number().min(0).max(1).default(0.05),
        /**
         * The derive tick: every customer and entity touched since the last one is scored once, its rules evaluated,
         * the at-risk list updated and its snapshot row written when due. Also run at every commit. Rules'
         * for-durations and the event-to-wall latency are counted in these ticks.
         */
        deriveIntervalMs: z.number().int().min(1).max(1_000).default(25),
        /**
         * Purchase model parameters used live until `vigil model fit` stores fitted ones, in days.
         * Defaults: the CDNOW sample fit of Fader, Hardie and Lee (2005), converted from weeks (alpha × 7).
         */
        model: z
          .object({
            bgnbd: z.object({ r: positive.default(0.243), alpha: positive.default(4.414 * 7), a: positive.default(0.793), b: positive.default(2.426) }).strict().default({}),
            gammaGamma: z.object({ p: positive.default(6.25), q: positive.default(3.74), gamma: positive.default(15.44) }).strict().default({}),
            /** Customer value horizon and the yearly discount rate used for it. */
            valueHorizonDays: z.number().int().min(1).default(365),
            annualDiscountRate: z.number().min(0).max(1).default(0.1),
            /** How often the processor re-reads model_params for a newer fit (`vigil model fit`). */
            refreshMs: z.number().int().min(100).default(5 * 60_000),
            /** The processor's own scheduled refit from ClickHouse (src/sources/modelRefit.ts); the cluster leader runs it. */
            refit: z
              .object({
                enabled: z.boolean().default(false),
                /** Least time between two refits (the first comes one interval after the start). */
                intervalMs: z.number().int().min(100).default(6 * 3_600_000),
                /** Refit only once this many purchases were received after the last stored fit's date. */
                minNewPurchases: z.number().int().min(0).default(100),
                /** As `vigil model fit --min-customers`. */
                minCustomers: z.number().int().min(10).default(100),
                /**
                 * A customer segment with at least this many buyers gets a BG/NBD fit of its own in each version, which
                 * scores its customers (the rest: the pooled fit); 0 fits the pooled model only.
                 */
                minSegmentBuyers: z.number().int().min(0).default(1000).refine((n) => n === 0 || n >= 10, 'must be 0 (off) or at least 10'),
                /**
                 * The nice value of the refit's worker thread (Linux: that thread only), so a refit takes the CPU the
                 * event loop leaves; 0 runs it at the processor's priority.
                 */
                nice: z.number().int().min(0).max(19).default(19),
                /**
                 * Fitting threads: 2 fits the pooled model in the refit's thread while a second one (at the same nice
                 * value) compares the models, then shares the segments' fits out between both; 1 fits everything in one.
                 */
                threads: z.number().int().min(1).max(2).default(2),
                /**
                 * ClickHouse's max_threads for the refit's queries (its reads of every purchase): 1 leaves the server's
                 * other threads to the processor's inserts and reads; 0 takes the server's default (one per core).
                 */
                clickhouseThreads: z.number().int().min(0).default(1),
                /**
                 * While the processor's event loop is busy (more than half of each 200 ms), the refit takes this share
                 * of one core: each of its `threads` fitting threads works busyDuty / threads of the time and sleeps the
                 * rest after every evaluation of a likelihood, and the read's parsing backs off likewise. On a 2-core
                 * machine any work on the second core slows the processor, nice or not. 1 never backs off.
                 */
                busyDuty: z.number().gt(0).max(1).default(0.3),
                /** A new fit moved this far from the last accepted one raises `model_drift`. */
                drift: z
                  .object({
                    /** Largest relative change of any BG/NBD parameter, |new − old| / old. */
                    maxParamChange: z.number().positive().default(0.5),
                    /** Largest change of the mean log-likelihood per customer (nats). */
                    maxLogLikelihoodChange: z.number().positive().default(0.5),
                  })
                  .strict()
                  .default({}),
              })
              .strict()
              .default({}),
          })
          .strict()
          .default({}),
        /** Days of daily engagement the trend is fitted over. */
        trendDays: z.number().int().min(3).max(14).default(14),
        /** Customers at or above this risk are listed on the wall. */
        atRiskThreshold: z.number().min(0).max(1).default(0.6),
        /** Brand experience, BE = (P + C + O) × T (src/signals/experience.ts; README "Brand experience"). */
        experience: z
          .object({
            /**
             * How fast each component's evidence fades (event time): product (P), interactive (C), others' voice (O),
             * and the slow baseline the trend and `product_experience_drop` compare against. At least a day each: a
             * customer's evidence is held as of a day (2 bytes), and within a day an event weighs up to 2^(1 day / half-life).
             */
            halfLifeMs: z
              .object({
                product: z.number().int().min(86_400_000).default(14 * 86_400_000),
                interactive: z.number().int().min(86_400_000).default(7 * 86_400_000),
                others: z.number().int().min(86_400_000).default(30 * 86_400_000),
                baseline: z.number().int().min(86_400_000).default(60 * 86_400_000),
              })
              .strict()
              .default({}),
            /** Pseudo-evidence pulling each component toward neutral: with 3, one refund alone (a problem weighs 3) takes P to −0.5. */
            prior: positive.default(3),
            /** Products held (least recently seen dropped first); a customer remembers two by slot (2 bytes each). */
            maxProducts: z.number().int().min(1).max(65_535).default(10_000),
            /** Below this index the churn risk takes the bad experience as a named reason and a bounded term. */
            churnThreshold: z.number().min(0).max(100).default(35),
            /** The most a bad experience (index 0) adds to churn risk, noisy-OR with the other parts. */
            churnWeight: z.number().min(0).max(1).default(0.3),
            /** Least volume (decayed purchases and ratings) of a product or segment shown on the wall's experience panel. */
            cellMinVolume: z.number().nonnegative().default(5),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    /** The live contact budget senders ask before they touch a customer (src/budget/). */
    budget: z
      .object({
        /** Answer checks over NATS and HTTP, keep reservations and the suppression bucket. */
        enabled: z.boolean().default(true),
        /**
         * Answer senders on a thread of the budget's own, reading the windows through shared memory, so that an answer
         * never waits behind the events (src/budget/budgetThread.ts); unset: on for a single processor. A cluster's
         * partitions answer on their consumers' thread (true is refused with cluster.partitions > 0).
         */
        thread: z.boolean().optional(),
        /**
         * A port of the budget's own for its two HTTP routes (`POST /api/v1/pressure/check`, `GET
         * /api/v1/customers/{id}/pressure`), served by the budget's thread on wall.host with the wall's tokens, Host
         * names and origins (src/budget/budgetHttp.ts): an answer there never waits for the processor's event loop, as
         * it does on the wall's port. Unset: no such port (the routes stay on the wall's). Needs the budget's thread.
         */
        httpPort: z.number().int().min(0).max(65_535).optional(),
        /** Connections budget.httpPort holds open at once; one more is closed as it is accepted, until one of them closes. */
        httpMaxConnections: z.number().int().min(1).default(256),
        /** Hard bounds per channel (email, push, sms, all) on the engagement-scaled allowance (signals.caps × factor). */
        bounds: z.record(z.string(), allowanceBoundsSchema).default({
          email: { minPerDay: 1, maxPerDay: 3, minPerWeek: 3, maxPerWeek: 10 },
          push: { minPerDay: 1, maxPerDay: 4, minPerWeek: 4, maxPerWeek: 18 },
          sms: { minPerDay: 1, maxPerDay: 1, minPerWeek: 1, maxPerWeek: 4 },
          all: { minPerDay: 1, maxPerDay: 6, minPerWeek: 5, maxPerWeek: 22 },
        }),
        /** Local hours (in the customer's zone) during which marketing is held back: from `start` to `end`. */
        quietHours: z.object({ start: hour.default(21), end: hour.default(8) }).strict().default({}),
        /** Zone for customers whose events never carried `props.tz`. */
        defaultTimeZone: z.string().default('UTC'),
        /** After a complaint or an unsubscribe, marketing is held back this long. */
        negativeCooldownMs: duration.default(72 * 3_600_000),
        /** A slot reserved by an allowing check and not consumed by a touch event is released after this. */
        reservationTtlMs: z.number().int().min(1_000).default(5 * 60_000),
        /** Most reservations held at once (about 0.4 KB each); beyond it marketing checks are refused `reservations_full`. */
        maxReservations: z.number().int().min(1).default(500_000),
        /** Of those, most held for customers with no live state (ids never seen), so one sender cannot pin memory with fresh ids. */
        maxUnknownReservations: z.number().int().min(1).default(100_000),
        /** NATS service subjects: `<subject>.check` and `<subject>.batch`. */
        subject: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).default('vigil.pressure'),
        /** Most customer ids in one batch request. */
        maxBatch: z.number().int().min(1).max(100_000).default(10_000),
        /** NATS KV bucket of customers suppressed now, per channel, with their expiry. */
        bucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default('vigil_suppressed'),
        /** The bucket's max_age: a backstop for keys the sweeper missed (NATS 2.9 has no per-key TTL). */
        bucketMaxAgeMs: z.number().int().min(60_000).default(8 * 24 * 3_600_000),
        /** How often expired suppressions and reservations are removed. */
        sweepIntervalMs: z.number().int().min(100).default(10_000),
        /** Suppressions per campaign and channel are counted over this window (the alert and the wall). */
        campaignWindowMs: z.number().int().min(60_000).default(3_600_000),
      })
      .strict()
      .default({}),
    processor: z
      .object({
        /** How often handled messages are committed (activity drained, rows flushed) and acknowledged. */
        commitIntervalMs: z.number().int().min(50).default(1_000),
        /** How often the live state is checkpointed with the stream sequence it covers, and the stream acknowledged. */
        checkpointIntervalMs: z.number().int().min(100).default(10_000),
        /** JetStream object store bucket for checkpoints (one object per consumer name). */
        checkpointBucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default('vigil_checkpoints'),
        /** A clean stop (SIGTERM) gives up waiting for the final checkpoint after this long; the next start replays from the previous one. */
        shutdownTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .default({}),
    alerts: z
      .object({
        evaluateIntervalMs: duration.default(1_000),
        /** How notifications are grouped and paced, as Alertmanager's route: one message per group, not per alert. */
        routing: z
          .object({
            /** Labels that make a group: `alertname` (the rule), `campaign`, `channel`, `segment`, `severity`, `subject_kind`, or rule labels. */
            groupBy: z.array(z.string()).default(['alertname', 'campaign']),
            groupWaitMs: duration.default(30_000),
            groupIntervalMs: duration.default(5 * 60_000),
            repeatIntervalMs: duration.default(4 * 3_600_000),
          })
          .strict()
          .default({}),
        webhook: z
          .object({
            /** Secret when it embeds a token: set VIGIL_ALERTS__WEBHOOK__URL. Empty = no webhook. */
            url: z.string().default(''),
            maxAttempts: z.number().int().min(1).max(50).default(6),
            initialBackoffMs: duration.default(1_000),
            maxBackoffMs: duration.default(60_000),
            timeoutMs: duration.default(5_000),
            /** Notifications waiting for delivery beyond this are dead-lettered at once, so a stuck receiver holds no memory. */
            queueSize: z.number().int().min(1).default(1_000),
            /** `alertmanager`: Alertmanager's webhook body (version 4); `slack`: `text` plus the alerts under `vigil`. */
            format: z.enum(['alertmanager', 'slack']).default('alertmanager'),
            /** The receiver's name in the Alertmanager body. */
            receiver: z.string().min(1).default('vigil'),
          })
          .strict()
          .default({}),
        /** Alertmanager API v2 endpoints every alert is posted to (each of an HA pair; no path): empty = none. */
        alertmanager: z
          .object({
            urls: z.array(z.string().url()).default([]),
            /** Firing alerts are posted again this often, as Prometheus does, so Alertmanager keeps them firing. */
            resendIntervalMs: duration.default(60_000),
            timeoutMs: duration.default(5_000),
            initialBackoffMs: duration.default(1_000),
            maxBackoffMs: duration.default(60_000),
            /** Batches waiting per Alertmanager beyond this: the oldest is dropped (the next resend carries every firing alert again). */
            queueSize: z.number().int().min(1).default(100),
            /** Firing alerts kept for re-sending at most; beyond it the oldest are left to end in Alertmanager by their endsAt. */
            maxAlerts: z.number().int().min(1).default(10_000),
          })
          .strict()
          .default({}),
        /** The wall's address as people reach it (`https://vigil.example.com`): alerts link to it. Empty = http://wall.host:wall.port. */
        externalUrl: z.string().default(''),
        /** Subject for notifications the webhook gave up on. */
        deadLetterSubject: z.string().default('vigil.deadletter.notifications'),
        /** Silences in force (not yet ended) at most: adding one more is refused until one ends or is expired. */
        maxSilences: z.number().int().min(1).max(100_000).default(1_000),
        rules: z.array(alertRuleSchema).default([
          { name: 'customer_churn_risk', signal: 'churn_risk', subject: 'customer', op: '>=', threshold: 0.8, resolveThreshold: 0.7, forMs: 0, severity: 'warning', labels: {}, minVolume: 0 },
          { name: 'customer_contact_fatigue', signal: 'fatigue', subject: 'customer', op: '>=', threshold: 1.5, resolveThreshold: 1, forMs: 0, severity: 'warning', labels: {}, minVolume: 0 },
          { name: 'campaign_overload', signal: 'overloaded_customers', subject: 'campaign', op: '>=', threshold: 50, resolveThreshold: 25, forMs: 60_000, severity: 'critical', labels: {}, minVolume: 0 },
          { name: 'channel_negative_surge', signal: 'surge_z', subject: 'channel', op: '>=', threshold: 4, resolveThreshold: 2, forMs: 60_000, severity: 'critical', labels: {}, minVolume: 10 },
          { name: 'campaign_negative_surge', signal: 'surge_z', subject: 'campaign', op: '>=', threshold: 4, resolveThreshold: 2, forMs: 60_000, severity: 'critical', labels: {}, minVolume: 10 },
          { name: 'campaign_suppressed', signal: 'suppressed_customers', subject: 'campaign', op: '>=', threshold: 500, resolveThreshold: 250, forMs: 0, severity: 'warning', labels: {}, minVolume: 0 },
          { name: 'customer_experience_decline', signal: 'experience', subject: 'customer', op: '<', threshold: 35, resolveThreshold: 45, forMs: 0, severity: 'warning', labels: {}, minVolume: 0 },
          { name: 'product_experience_drop', signal: 'experience_drop', subject: 'product', op: '>=', threshold: 15, resolveThreshold: 8, forMs: 0, severity: 'critical', labels: {}, minVolume: 20 },
          { name: 'processor_lag', signal: 'lag_ms', subject: 'processor', op: '>=', threshold: 30_000, resolveThreshold: 5_000, forMs: 30_000, severity: 'critical', labels: {}, minVolume: 0 },
          { name: 'model_drift', signal: 'model_drift', subject: 'processor', op: '>=', threshold: 1, resolveThreshold: 1, forMs: 0, severity: 'warning', labels: {}, minVolume: 0 },
        ]),
      })
      .strict()
      .default({}),
    wall: z
      .object({
        /** Bind address: loopback unless configured otherwise; a non-loopback address needs tokens or allowOpen. */
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /** Lets the wall listen on a non-loopback address with no tokens (everyone who reaches it is a responder); logged as a warning. */
        allowOpen: z.boolean().default(false),
        /** Origins (`https://wall.example.com`) besides the wall's own that may open /ws and send state-changing requests. */
        allowedOrigins: z.array(z.string().min(1)).default([]),
        /** Host names (without port) served besides loopback names; enforced when bound to loopback or when non-empty. */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** Open WebSockets at most; an upgrade over it gets 503. */
        maxConnections: z.number().int().min(1).default(1_000),
        /** Commands per second per WebSocket client (token bucket, bursts of 4 seconds' worth); over it they are dropped. */
        maxMessagesPerSecond: z.number().int().min(1).default(50),
        /** `auto` uses uWebSockets.js where its binary loads (Node 16–20) and `ws` elsewhere. */
        transport: z.enum(['auto', 'uws', 'ws']).default('auto'),
        /** Secrets: set them with VIGIL_WALL__TOKENS__VIEWER / __RESPONDER (comma separated). Empty = open wall. */
        tokens: z
          .object({ viewer: z.array(z.string().min(8)).default([]), responder: z.array(z.string().min(8)).default([]) })
          .strict()
          .default({}),
        /**
         * Secret (VIGIL_WALL__PRIVACY_TOKENS, comma separated): tokens that may only ask for customer exports
         * (`GET /api/v1/customers/{id}/export`), beside responders. Once set, an open wall's visitors may not export.
         */
        privacyTokens: z.array(z.string().min(8)).default([]),
        /** Incremental frames are coalesced and sent at most this often per client. */
        frameIntervalMs: z.number().int().min(16).default(250),
        /**
         * Alert and silence changes leave on the next turn of the event loop; only a second such flush within this long
         * of the previous one (a storm) waits out the rest of it, its alerts coalesced per id. At most 25 alert
         * messages a second per client by default, and an alert waits at most this long for the wall.
         */
        alertFrameIntervalMs: z.number().int().min(10).default(40),
        /** A client whose socket buffers more than this is skipped until it drains (slow screens never slow the processor). */
        maxBufferedBytes: z.number().int().min(1_024).default(1024 * 1024),
        atRiskListSize: z.number().int().min(1).max(1_000).default(50),
      })
      .strict()
      .superRefine((w, ctx) => {
        // With no tokens everyone who reaches the wall is a responder: only this machine may, unless said explicitly.
        const open = w.tokens.viewer.length + w.tokens.responder.length === 0;
        if (open && !w.allowOpen && !isLoopbackAddress(w.host)) {
          ctx.addIssue({ code: 'custom', path: ['host'], message: `${w.host} is not a loopback address and no tokens are set: set wall.tokens (VIGIL_WALL__TOKENS__VIEWER / __RESPONDER) or wall.allowOpen: true` });
        }
      })
      .default({}),
    cluster: z
      .object({
        /** Customer partitions, made by the NATS server's subject mapping (docs/scale-out.md); 0 = one processor holds every customer. */
        partitions: z.number().int().min(0).max(1_024).default(0),
        /**
         * Worker threads of this process, each a cluster member of its own (`<processorId>-t<i>`) holding a share of
         * the partitions (src/threads.ts); 1 = the processor runs on the main thread.
         */
        threads: z.number().int().min(1).max(64).default(1),
        /** This processor's id among those sharing the partitions; default: host name and process id. */
        processorId: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
        /** KV bucket holding the members, the partition leases and the leader lease. */
        leaseBucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default('vigil_cluster'),
        /** A lease not renewed for this long expires: how soon a dead processor's partitions move. Renewed every quarter of it. */
        leaseMs: z.number().int().min(1_000).default(10_000),
        /** Subjects of the cluster's own traffic: summaries, acknowledgements, silence changes. */
        subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).default('vigil.cluster'),
        /** JetStream stream of the partitions' channel, segment and campaign counts, combined by every processor. */
        partialsStream: z.string().regex(/^[A-Za-z0-9_-]+$/).default('VIGIL_PARTIALS'),
        partialsSubjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).default('vigil.partials'),
      })
      .strict()
      .default({}),
    privacy: z
      .object({
        /** Replace every customer id with HMAC-SHA-256(pseudonymKey, id) (32 hex characters) at parse time, before anything is stored. */
        pseudonymize: z.boolean().default(false),
        /** Secret: VIGIL_PRIVACY__PSEUDONYM_KEY only, never in a file. Also keys the subject hash of erasure audit records. */
        pseudonymKey: z.string().default(''),
        /** Responders on the wall see the original ids of recently seen customers (a bounded map held in memory only). */
        revealToResponders: z.boolean().default(false),
        /** Pseudonym-to-id pairs kept in memory for revealing, least recently seen dropped first. */
        revealCacheSize: z.number().int().min(1).max(10_000_000).default(100_000),
        /** How long an erasure waits for ClickHouse to finish its deletes before it tries again. */
        erasureTimeoutMs: z.number().int().min(1_000).default(300_000),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Threads share the customers through the partition leases: a thread without a partition would be idle.
    if (c.cluster.threads > 1 && c.cluster.partitions < c.cluster.threads) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'threads'], message: `${c.cluster.threads} threads need cluster.partitions >= ${c.cluster.threads} (now ${c.cluster.partitions}): each thread holds whole partitions` });
    }
    // Thread i serves wall.port + i.
    if (c.cluster.threads > 1 && c.wall.port > 0 && c.wall.port + c.cluster.threads - 1 > 65_535) {
      ctx.addIssue({ code: 'custom', path: ['wall', 'port'], message: `thread ${c.cluster.threads - 1} would serve port ${c.wall.port + c.cluster.threads - 1}, above 65535` });
    }
    if (c.cluster.threads > 1 && c.wall.transport === 'uws') {
      ctx.addIssue({ code: 'custom', path: ['wall', 'transport'], message: "uws cannot serve worker threads (cluster.threads > 1): a thread that dies would abort the whole process; use 'auto' (ws in threads) or 'ws'" });
    }
    if (c.budget.thread === true && c.cluster.partitions > 0) {
      ctx.addIssue({ code: 'custom', path: ['budget', 'thread'], message: "a cluster's partitions answer the budget on their consumers' thread: budget.thread is for a single processor (cluster.partitions 0)" });
    }
    if (c.budget.httpPort !== undefined && !budgetOnThread(c)) {
      ctx.addIssue({ code: 'custom', path: ['budget', 'httpPort'], message: "the budget's own port is served by its thread: it needs budget.enabled and budget.thread on a single processor (cluster.partitions 0)" });
    }
    if (c.budget.httpPort !== undefined && c.budget.httpPort !== 0 && c.budget.httpPort === c.wall.port) {
      ctx.addIssue({ code: 'custom', path: ['budget', 'httpPort'], message: `${c.budget.httpPort} is the wall's port (wall.port): the budget needs a port of its own` });
    }
    const p = c.privacy;
    if (p.pseudonymize && p.pseudonymKey.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['privacy', 'pseudonymKey'], message: 'privacy.pseudonymize needs a key of at least 32 characters in VIGIL_PRIVACY__PSEUDONYM_KEY' });
    }
    if (p.revealToResponders && !p.pseudonymize) {
      ctx.addIssue({ code: 'custom', path: ['privacy', 'revealToResponders'], message: 'only means something with privacy.pseudonymize on' });
    }
    // An open wall makes every visitor a responder: revealing would show original ids to anyone.
    if (p.revealToResponders && c.wall.tokens.responder.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['privacy', 'revealToResponders'], message: 'needs wall.tokens.responder, or every visitor of the wall would see original ids' });
    }
  });

export type VigilConfig = z.infer<typeof configSchema>;
export type AlertRule = z.infer<typeof alertRuleSchema>;
export type TouchCap = z.infer<typeof capSchema>;
export type AllowanceBounds = z.infer<typeof allowanceBoundsSchema>;
export type BudgetConfig = VigilConfig['budget'];

/** budget.thread when unset, for a single processor. */
const BUDGET_THREAD_DEFAULT = true;

/** Whether the contact budget answers on a thread of its own (budget.thread; unset: BUDGET_THREAD_DEFAULT). */
export function budgetOnThread(c: Pick<VigilConfig, 'budget' | 'cluster'>): boolean {
  return c.budget.enabled && c.cluster.partitions === 0 && (c.budget.thread ?? BUDGET_THREAD_DEFAULT);
}
