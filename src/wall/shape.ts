// What the wall sends is bounded: at most `atRiskListSize` customers, highest risk first, whatever the source hands over.
import type { AtRiskEntry, WallFrame } from '../contract/frames.js';

export function limitAtRisk(list: AtRiskEntry[], size: number): AtRiskEntry[] {
  if (list.length <= size && isSortedByRisk(list)) return list;
  return [...list].sort((a, b) => b.risk - a.risk).slice(0, size);
}

export function shapeFrame<F extends WallFrame>(frame: F, atRiskListSize: number): F {
  if (frame.type === 'snapshot') return { ...frame, atRisk: limitAtRisk(frame.atRisk, atRiskListSize) };
  if (frame.type === 'at_risk') return { ...frame, atRisk: limitAtRisk(frame.atRisk, atRiskListSize) };
  return frame;
}

function isSortedByRisk(list: AtRiskEntry[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1].risk < list[i].risk) return false;
  return true;
}
