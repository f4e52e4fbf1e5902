// The wall page: one WebSocket, state replaced by snapshots and patched by flushes, rendered at most once a frame.
// Bundled by esbuild into one ES module (src/wall/pageBundle.ts); uPlot and re2js stay separate assets.
import { renderAlerts } from './alerts.js';
import { renderAtRisk } from './atRisk.js';
import { renderCharts } from './charts.js';
import { renderExperience } from './experience.js';
import { connect, startHeartbeat } from './connection.js';
import { setRenderRequest } from './dom.js';
import { onConnectionDropped, onServerMessage } from './messages.js';
import { renderOverload } from './overload.js';
import { wireSilenceForm } from './silenceForm.js';
import { renderStatus } from './status.js';
import { renderTiles } from './tiles.js';

type Panel = (() => void) & { failed?: boolean };

const RENDERERS: Panel[] = [renderStatus, renderTiles, renderCharts, renderAlerts, renderAtRisk, renderOverload, renderExperience];

let renderQueued = false;

function render(): void {
  renderQueued = false;
  // One panel failing must not freeze the others: each renders on its own, and the error is reported once.
  for (const renderPanel of RENDERERS) {
    try {
      renderPanel();
    } catch (err) {
      if (!renderPanel.failed) console.error(`wall: ${renderPanel.name} failed`, err);
      renderPanel.failed = true;
    }
  }
}

function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  // rAF pauses in a hidden tab; a timer keeps the state fresh for when it shows again.
  if (document.hidden) window.setTimeout(render, 250);
  else requestAnimationFrame(render);
}

setRenderRequest(scheduleRender);
wireSilenceForm();
// The clock, ages and the stale marker move even when no frame arrives.
window.setInterval(scheduleRender, 1_000);
startHeartbeat();
document.addEventListener('visibilitychange', scheduleRender);
connect({ message: onServerMessage, dropped: onConnectionDropped });
scheduleRender();
