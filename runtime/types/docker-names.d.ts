declare module 'docker-names' {
  const names: { getRandomName(retry?: boolean | number): string };
  export default names;
}
