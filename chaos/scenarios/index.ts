/** Every scenario, in the order a run takes them. */
import type { Scenario } from '../scenario.js';
import { creates } from './creates.js';
import { processKills } from './process-kills.js';
import { rateLimitStorm } from './rate-limit-storm.js';
import { temporalKill } from './temporal-kill.js';
import { trayDown } from './tray-down.js';
import { trayHang } from './tray-hang.js';
import { webhookFlood } from './webhook-flood.js';
import { workerChurn } from './worker-churn.js';
import { workersGone } from './workers-gone.js';

export const SCENARIOS: Scenario[] = [
  temporalKill,
  processKills,
  trayDown,
  webhookFlood,
  creates,
  workerChurn,
  rateLimitStorm,
  trayHang,
  workersGone,
];
