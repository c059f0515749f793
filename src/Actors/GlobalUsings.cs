global using Akka.Actor;
global using BufferActors.Native;
