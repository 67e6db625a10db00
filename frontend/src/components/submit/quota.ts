// What a job will charge: n items × the type's unit cost, against the caller's balance.

export interface QuotaPlan {
  /** Items the job will have; null when the job finds its own items (a source), so the total is unknown. */
  count: number | null;
  unitCost: number;
  total: number | null;
  before: number;
  after: number | null;
  /** How much is missing (0 when the balance covers it). */
  shortfall: number;
}

export function quotaPlan(count: number | null, unitCost: number, balance: number): QuotaPlan {
  const total = count === null ? null : count * unitCost;
  const after = total === null ? null : balance - total;
  return {
    count,
    unitCost,
    total,
    before: balance,
    after,
    shortfall: after !== null && after < 0 ? -after : 0,
  };
}

/** Whether submitting needs the quota confirmation first: anything that may cost. */
export function needsConfirmation(count: number | null, unitCost: number): boolean {
  if (unitCost <= 0) return false;
  return count === null || count > 0;
}
