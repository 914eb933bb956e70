// Every CLI verb, one file each under commands/. main.ts loads only the
// module of the verb being run, which keeps `skiff run` starting fast.
export const COMMANDS: Record<string, string> = {
  run: 'Create and run a new container from an image',
  create: 'Create a new container',
  start: 'Start one or more stopped containers',
  stop: 'Stop one or more running containers',
  restart: 'Restart one or more containers',
  kill: 'Kill one or more running containers',
  rm: 'Remove one or more containers',
  ps: 'List containers',
  inspect: 'Return low-level information on containers or images',
  logs: 'Fetch the logs of a container',
  exec: 'Execute a command in a running container',
  wait: 'Block until one or more containers stop, then print their exit codes',
  images: 'List images',
  image: 'Manage images (ls, rm, inspect, tag, history, save, load, prune)',
  load: 'Load an image from a tar archive (docker-archive or OCI layout)',
  save: 'Save one or more images to a tar archive (docker-archive)',
  tag: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  rmi: 'Remove one or more images',
  history: 'Show the history of an image',
  registry: 'Serve an OCI distribution registry (skiff registry serve)',
};
