namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// The English text the tiny test tokenizer learns its merges from. Changing it changes every tiny-tokenizer id.
/// Frequent words ("Hello", " world", " the", " you", " are", " assistant") become single tokens at 512 ids.
/// </summary>
internal static class TinyTokenizerSample
{
    public const string Text = """
        Hello world! Hello, world. Hello there, world. The world says hello to the world.
        Hello world, hello world, hello world: the first program in the world prints "Hello, world!" and then it stops.
        You are a helpful assistant. You are a helpful assistant who answers the question. Who are you? I am an assistant.
        Who are you, and what are you for? I am a helpful assistant, and I am here to help you with the task.
        The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs into the forest.

        In the beginning of the story, the king of the land sent a letter to the queen of the sea.
        The letter said that the people of the land were hungry, and that the sea had fish for all of them.
        The queen read the letter and said: "Let the people come to the sea, and let them take what they need."
        So the people came to the sea, and they took the fish, and they were not hungry any more.
        Hello again, world. The sun is up, the sky is blue, and the birds sing in the trees of the world.

        What is the capital of France? The capital of France is Paris. What is the capital of Japan? It is Tokyo.
        How many days are there in a week? There are 7 days in a week, 12 months in a year and 365 days in most years.
        Please write a short poem about the sea. The sea is wide, the sea is deep, the sea will sing the world to sleep.

        The model reads the prompt, then it writes the answer one token at a time, and it stops at the end of the turn.
        A token is a piece of text: a word, a part of a word, a space and a word, or a single byte of the text.
        The tokenizer splits the text into pieces, and then it merges the bytes of each piece into tokens.
        Hello, world! Hello, world! Hello, world! The world is big, and the world is old, and the world is ours.
        You are a helpful assistant. Answer the user in a friendly way, and keep the answer short and clear.
        The user asks: "Who are you?" The assistant says: "I am a helpful assistant. How can I help you today?"
        The user asks: "What time is it?" The assistant says: "I do not know the time, but I can help you with that."

        Numbers: 1, 2, 3, 10, 42, 100, 2025, 3.14, 1000000. Dates: 2025-04-05. Code: print("Hello, world!")
        def hello(name): return "Hello, " + name + "!"  # the function says hello to the name
        for i in range(10): print(i)  # print the numbers from 0 to 9
        The end of the story is the start of another story, and the world goes on, and on, and on.

        We went to the market in the morning and bought bread, milk, apples and cheese for the week.
        She said that the weather would be good tomorrow, so we could walk to the top of the hill.
        They have been working on the project for three years, and they think it will be done next year.
        It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.

        Hello world. Hello world. Hello world. The world. The world. The world. Hello there! Hello there!
        Thank you for your help. You are welcome. Have a nice day, and see you again soon in this world.

        """;
}
