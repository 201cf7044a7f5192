// Types for the part of jStat the lab uses (the package ships none).
declare module 'jstat' {
  const jStat: {
    studentt: {
      /** Quantile of Student's t distribution with dof degrees of freedom. */
      inv(p: number, dof: number): number;
    };
  };
  export default jStat;
}
