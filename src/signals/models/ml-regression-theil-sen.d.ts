// ml-regression-theil-sen@3 ships no types; this declares the part trend.test.ts checks the live trend's slope against.
declare module 'ml-regression-theil-sen' {
  export class TheilSenRegression {
    constructor(x: readonly number[], y: readonly number[]);
    readonly slope: number;
    readonly intercept: number;
    predict(x: number): number;
  }
}
