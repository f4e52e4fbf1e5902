// Writes a simulated purchase log for `vigil model fit --holdout` (the one behind the README's holdout figures):
//   npx tsx scripts/simulate-purchase-log.ts [CUSTOMERS] [SEED] > log.csv
//   npx vigil model fit --holdout log.csv --calibration-end 2024-09-27 --unit weeks
import { HOLDOUT_EXAMPLE, purchaseLogCsv } from '../src/signals/models/simulate.js';

const customers = Number(process.argv[2] ?? 8000);
const seed = Number(process.argv[3] ?? 33);
process.stdout.write(purchaseLogCsv(HOLDOUT_EXAMPLE.simulate(customers, seed), HOLDOUT_EXAMPLE.startDate));
